// A webhook's URL as the audit log holds it (docs/api.md §10): GET /audit
// is open to viewers, and a URL's path can be a secret of its own (Slack's
// incoming webhooks), so only its origin (scheme and host) is kept, with a
// short hash of the rest: an admin who can read the full URL in
// GET /webhooks can tell which one an entry is about, a viewer learns no path.
import { createHash } from "node:crypto";

export interface AuditedUrl {
  /** `https://host[:port]`. */
  origin: string;
  /** The first 12 hex digits of the SHA-256 of everything after the origin (path, query, fragment, as the URL parser writes them). */
  pathSha256: string;
}

export function auditedUrl(url: string): AuditedUrl {
  const u = new URL(url);
  const rest = `${u.pathname}${u.search}${u.hash}`;
  return { origin: `${u.protocol}//${u.host}`, pathSha256: createHash("sha256").update(rest).digest("hex").slice(0, 12) };
}
