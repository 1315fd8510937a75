// What each code of the error catalogue (src/errors.ts) means to a client and
// what to do about it: the source of the guide's error page
// (docs/guide/errors.md, rendered by renderErrorCatalogue) and of the error
// examples in the OpenAPI document (src/routes/openapi-docs.ts).
// test/docs/error-catalogue.test.ts checks that every code of src/errors.ts
// is here with its status, and that the page is current.

import * as errors from "./errors.js";

/** Every code of src/errors.ts with its HTTP status. */
export function errorCatalogue(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const value of Object.values(errors)) {
    if (typeof value !== "function" || !("prototype" in value)) continue;
    let e: unknown;
    try {
      e = new (value as new () => unknown)();
    } catch {
      continue;
    }
    const { code, statusCode } = e as { code?: unknown; statusCode?: unknown };
    if (typeof code === "string" && typeof statusCode === "number") out[code] = statusCode;
  }
  return out;
}

/**
 * Every status of each code: a few codes have more than one (RELEASE_YANKED:
 * 409 refusing a promotion, 403 refusing a pin). errorCatalogue keeps one.
 */
export function errorStatuses(): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const value of Object.values(errors)) {
    if (typeof value !== "function" || !("prototype" in value)) continue;
    let e: unknown;
    try {
      e = new (value as new () => unknown)();
    } catch {
      continue;
    }
    const { code, statusCode } = e as { code?: unknown; statusCode?: unknown };
    if (typeof code === "string" && typeof statusCode === "number") out[code] = [...new Set([...(out[code] ?? []), statusCode])].sort((a, b) => a - b);
  }
  return out;
}

export interface ErrorDoc {
  /** When a client gets it. */
  meaning: string;
  /** What to do about it. */
  remedy: string;
  /** A message as the server words it (the example in the OpenAPI document). */
  example: string;
  /** The `field` of the example, for errors that name one. */
  field?: string;
  /** For a code with more than one status: what differs at the other ones. */
  byStatus?: Record<number, { meaning: string; remedy: string; example: string }>;
}

export const ERROR_DOCS: Record<string, ErrorDoc> = {
  VALIDATION_FAILED: {
    meaning: "A field of the body, path or query is missing, of the wrong type or out of range; `field` names it and `reason` says why.",
    remedy: "Fix the named field (docs/api.md has every field's rules).",
    example: "reason: is required",
    field: "reason",
  },
  MALFORMED_BODY: { meaning: "The body is not valid JSON, or holds a key such as `__proto__`.", remedy: "Send one JSON document.", example: "body is not valid JSON" },
  BAD_REQUEST: { meaning: "A request the framework refused before Chartroom read it (e.g. an empty body with `Content-Type: application/json`).", remedy: "Read the message; send a well-formed request.", example: "Body cannot be empty when content-type is set to 'application/json'" },
  LICENSE_MISSING: {
    meaning: "No `Authorization` header (or an empty one) on an operator route, where `ANONYMOUS_CHANNEL` is unset or the route is a pinned release or a report.",
    remedy: "Send `Authorization: Basic base64(\"license:\" + JWT)` or `Bearer <JWT>`.",
    example: "a license is required (Authorization: Basic license:<JWT> or Bearer <JWT>)",
  },
  LICENSE_MALFORMED: { meaning: "The credentials are not a well-formed JWT: wrong scheme, bad base64, a Basic user other than `license`, whitespace inside, an unsigned `alg: none`.", remedy: "Check what the operator was given as its license.", example: "the license is not a well-formed JWT: expected three dot-separated parts" },
  LICENSE_TOO_LARGE: { meaning: "The license is longer than the server accepts (8 KiB).", remedy: "Issue a smaller license; let headers of 32 KiB through the proxy.", example: "the license is longer than 8192 bytes" },
  LICENSE_ALG_NOT_ALLOWED: { meaning: "The license is signed with an algorithm other than RS256, ES256 or EdDSA (`none` and HS* included).", remedy: "Sign licenses with one of the allowed algorithms.", example: "license algorithm HS256 is not allowed (RS256, ES256, EdDSA)" },
  LICENSE_UNKNOWN_KID: { meaning: "The license's `kid` is in neither `LICENSE_JWKS_FILE` nor this server's signing key.", remedy: "Publish the issuer's public key in the JWKS file (it is reloaded on change).", example: "the license's key id is not trusted" },
  LICENSE_BAD_SIGNATURE: { meaning: "The signature does not verify with the key its `kid` names.", remedy: "The license was altered or signed with another key: issue it again.", example: "the license signature is invalid" },
  LICENSE_EXPIRED: { meaning: "The license's `exp` has passed (60 s of clock skew allowed).", remedy: "Issue a new license to the customer.", example: "the license has expired" },
  LICENSE_NOT_YET_VALID: { meaning: "The license's `nbf` (or `iat`) is in the future.", remedy: "Check the issuer's clock, or wait.", example: "the license is not valid yet" },
  LICENSE_WRONG_ISSUER: { meaning: "`LICENSE_ISSUER` is set and the license's `iss` differs.", remedy: "Issue the license with the configured issuer.", example: "the license was issued by an untrusted issuer" },
  LICENSE_WRONG_AUDIENCE: { meaning: "`LICENSE_AUDIENCE` is set and the license's `aud` does not name it.", remedy: "Issue the license for this server's audience.", example: "the license is not meant for this server" },
  LICENSE_CLAIMS_INVALID: { meaning: "A claim is missing or wrong: no `sub` or `exp`, a `channel` that is not a channel name, a `sub` or `jti` that is not an identifier, the reserved `sub` `(anonymous)`.", remedy: "Set the claims docs/guide/licenses.md lists.", example: "the license claims are invalid: channel must be a channel name (^[a-z][a-z0-9-]{0,62}$)" },
  ADMIN_UNAUTHORIZED: { meaning: "No admin token, or one that is expired, badly signed or for another audience.", remedy: "Mint a fresh token (`chartroom token`) or get one from your identity provider.", example: "the admin token has expired" },
  LICENSE_REVOKED: { meaning: "The license's `jti` has been revoked.", remedy: "Issue the customer a new license if the revocation was a mistake.", example: "this license has been revoked" },
  RELEASE_NOT_ENTITLED: { meaning: "A pinned release the license may not have: not its channel's release now or before.", remedy: "Pin a release the license's channel has served.", example: "release 0.61.0 is not available to this license" },
  ROLE_REQUIRED: { meaning: "The admin token lacks the role the action needs (viewer < release-engineer < admin).", remedy: "Use a token with that role.", example: "this action needs the release-engineer role" },
  NOT_FOUND: { meaning: "The thing named in the path does not exist (e.g. a licensee with no values override).", remedy: "Check the name.", example: "licensee acme has no values override" },
  CHANNEL_NOT_FOUND: { meaning: "No channel has that name.", remedy: "List the channels (`chartroom channels`).", example: "channel stabel does not exist" },
  CHANNEL_HAS_NO_RELEASE: { meaning: "The channel exists but no release has been promoted to it yet.", remedy: "Promote a release to it.", example: "channel canary has no release yet" },
  RELEASE_NOT_FOUND: { meaning: "No release has that id or version.", remedy: "List the releases (`chartroom releases`).", example: "release 0.61.9 does not exist" },
  ROLLOUT_NOT_FOUND: { meaning: "The channel has never had a staged rollout.", remedy: "Start one with a promotion's `rollout`.", example: "channel stable has never had a rollout" },
  WEBHOOK_NOT_FOUND: { meaning: "No webhook has that id.", remedy: "List the webhooks (`chartroom webhooks list`).", example: "webhook 8be5a25a-d879-4632-a08b-4662a4cb2f6c does not exist" },
  ROUTE_NOT_FOUND: { meaning: "No route has this method and path.", remedy: "See `/docs` for the routes.", example: "no route GET /api/v1/admin/channel" },
  CHANNEL_EXISTS: { meaning: "A channel of that name exists already.", remedy: "Change it with PATCH instead.", example: "channel canary already exists" },
  RELEASE_EXISTS: { meaning: "A release of that version exists already; releases are immutable.", remedy: "Publish a new version.", example: "release 0.61.0 already exists; releases are immutable" },
  RELEASE_YANKED: {
    meaning: "The release is yanked: it is never promoted again.", remedy: "Promote another release.", example: "release 0.61.0 is yanked and cannot be promoted", field: "release",
    byStatus: { 403: { meaning: "A license pins a yanked release (GET /api/v1/operator/channel/release/{versionId}): it is never served again.", remedy: "Pin another release, or drop the pin to get the channel's release.", example: "release 0.61.0 is yanked: it is never served again" } },
  },
  POLICY_REFUSED: { meaning: "The channel's policy (`upstream`, `minSoak`, `downgradeRole`: docs/api.md §3) refuses the move; the message names the rule and what would work.", remedy: "Promote the upstream's current release after its soak, or use a token with the role `downgradeRole` names.", example: "channel stable takes only the current release of beta (policy upstream: beta), which is 0.60.0: promote 0.61.0 --to beta first", field: "release" },
  UPGRADE_PATH_REQUIRED: { meaning: "A license pins a release its installed version cannot reach directly (docs/api.md §8): a required release or the target's `upgradeFrom` is on the way.", remedy: "Pin the stepping stone the message names first, or drop the pin: the channel's answer walks the path itself.", example: "release 0.61.0 cannot be installed over 0.58.1 directly: install 0.59.2 first (required: \"schema migration\"); path: installed 0.58.1 → 0.59.2 (required: \"schema migration\") → 0.61.0" },
  FLEET_ENTRY_NOT_FOUND: { meaning: "The licensee has no fleet entry: it has never polled this server, or its first poll is not written yet.", remedy: "Check the sub (`chartroom fleet`), or wait for its first poll.", example: "licensee acme has no fleet entry (it has not polled this server, or its first poll is not written yet)" },
  CHART_SOURCE_UNREACHABLE: { meaning: "A bundle's chart source did not answer: no connection, no answer within `BUNDLE_FETCH_TIMEOUT_MS`, or an address `OUTBOUND_DENY_PRIVATE` refuses; the message names it.", remedy: "Check that this server reaches the Helm repository or registry; retry.", example: "chart source https://charts.wandb.ai is unreachable: https://charts.wandb.ai/index.yaml: connect ETIMEDOUT" },
  CHART_SOURCE_ERROR: { meaning: "A bundle's chart source answered something else than a chart: a refused credential, not a Helm index, not a Helm chart; the message names it.", remedy: "Fix the release's chart reference or the registry credentials (docs/api.md §11).", example: "chart source oci://registry.example.com/charts: https://registry.example.com/v2/charts/operator-wandb/manifests/0.18.2 refused an anonymous token; add credentials for it to CHART_REGISTRY_AUTH_FILE (HTTP 403)" },
  CHART_NOT_FOUND: { meaning: "A bundle's chart source does not have the chart: the index does not list it at that version, or the registry has no such tag.", remedy: "Publish the chart, or fix the release's chart version.", example: "chart source https://charts.wandb.ai: index.yaml lists no chart operator-wandb at version 0.18.2" },
  CHART_DIGEST_MISMATCH: { meaning: "A bundle's chart does not match the digest its index or the release names.", remedy: "Someone replaced the chart: check the source before exporting again.", example: "chart source https://charts.wandb.ai: https://charts.wandb.ai/operator-wandb-0.18.2.tgz answered an archive with sha256 9f1c…, but 4be0… was expected" },
  CHART_TOO_LARGE: { meaning: "A bundle's chart is larger than `BUNDLE_MAX_CHART_BYTES`.", remedy: "Raise `BUNDLE_MAX_CHART_BYTES`, or slim the chart.", example: "chart source https://charts.wandb.ai: https://charts.wandb.ai/operator-wandb-0.18.2.tgz answers more than 52428800 bytes (BUNDLE_MAX_CHART_BYTES)" },
  PROMOTION_CONFLICT: { meaning: "`expectedCurrent` (CLI `--expect`) or `from` does not match: the channel moved meanwhile, or the release is not on `from`.", remedy: "Read the channel again and decide again.", example: "channel stable is at 0.59.2, not 0.58.1", field: "expectedCurrent" },
  PROMOTION_REFUSED: { meaning: "The move breaks a rule: the release is not `from`'s current release, or a rollback has no earlier release.", remedy: "Read the message: it names the rule; promote in order with `--from`.", example: "release 0.60.0 is not the current release of channel beta (it is at 0.59.2)", field: "from" },
  DOWNGRADE_REFUSED: { meaning: "The release is lower than the channel's: a promotion never downgrades by accident.", remedy: "Roll back (`chartroom rollback`), or pass `allowDowngrade` (`--allow-downgrade`).", example: "release 0.58.1 is lower than 0.59.2, the current release of stable; set allowDowngrade to roll back", field: "release" },
  ROLLBACK_REFUSED: { meaning: "The rollback target is not a release the channel served before, or it is yanked.", remedy: "Pick a release from `chartroom history`.", example: "release 0.60.0 has never been the release of channel stable; a rollback returns only to a release the channel held (promote it instead)", field: "to" },
  DECLARATION_CONFLICT: { meaning: "A declarative file (`chartroom apply`) contradicts what is stored: a release file that differs from the stored release, a release whose rollout on the channel was aborted.", remedy: "Publish a new version, or change the file; the message names the file and field.", example: "channels/releases/0.59.2.yaml: chart.version is 0.18.1, but release 0.59.2 is stored with 0.18.0 (releases are immutable)" },
  WRITE_CONFLICT: { meaning: "The change collided with a concurrent one.", remedy: "Retry.", example: "the change collided with a concurrent one; retry" },
  UNIQUE_VIOLATION: { meaning: "A unique constraint refused a write the service did not map to a more precise code.", remedy: "Read the message; retry with another name.", example: "a Channel with this name already exists" },
  NOT_FROZEN: { meaning: "Lifting a freeze that is not on.", remedy: "Nothing to do.", example: "promotions are not frozen; nothing to lift" },
  ROLLOUT_IN_PROGRESS: { meaning: "The channel has an active rollout: no other promotion until it completes or is aborted.", remedy: "Wait, advance or abort the rollout (`chartroom rollout`).", example: "channel beta has an active rollout (e4d33731-abbf-4eac-88e3-95dec8ea3f8d, progressing at step 1 of 2); pause, advance or abort it first (chartroom rollout status beta)" },
  NO_ACTIVE_ROLLOUT: { meaning: "A rollout control (pause, resume, advance, abort) on a channel with no rollout in that state.", remedy: "`chartroom rollout status` shows the state.", example: "channel stable has no active rollout" },
  GATES_FAILING: { meaning: "Advancing a step whose gates fail.", remedy: "Fix what the gate reports, or advance with `force` (admin).", example: "the gates of step 1 of the rollout of channel beta do not pass (the rollout is halted); an admin can advance with force: true (gate 1 (reports) failed: 1 healthy of 3 required)" },
  FROZEN: { meaning: "Promotions are frozen (stop the line); rollbacks, yanks and revocations still work.", remedy: "Wait for the freeze to end, or lift it (`chartroom freeze off`).", example: "promoting stable to 0.59.2 refused: promotions are frozen (stop the line) by admin@example.com since 2026-12-01T18:40:52.362Z: incident 4711: bad image; it ends by itself at 2026-12-01T22:00:00.000Z or when lifted" },
  REQUEST_TIMEOUT: { meaning: "The request was not received in time.", remedy: "Retry on a better connection.", example: "the request was not received in time" },
  BODY_TOO_LARGE: { meaning: "The body is larger than the route accepts: 16 KiB for promote, rollback, yank and the other small bodies, `BODY_LIMIT_BYTES` (1 MiB by default) for releases, channels and values.", remedy: "Send less, or raise `BODY_LIMIT_BYTES`.", example: "request body is larger than 16384 bytes" },
  URI_TOO_LONG: { meaning: "A path parameter is longer than any valid one.", remedy: "Check the path.", example: "a path parameter is longer than 256 characters" },
  HEADERS_TOO_LARGE: { meaning: "The request headers are larger than the server reads.", remedy: "Send smaller headers.", example: "the request headers are larger than 32768 bytes" },
  UNSUPPORTED_MEDIA_TYPE: { meaning: "A body that is not `application/json`.", remedy: "Send JSON with `Content-Type: application/json`.", example: "send JSON (Content-Type: application/json)" },
  RATE_LIMITED: { meaning: "A rate limit is spent (per client IP, per licensee or per admin subject); `Retry-After` says when to try again.", remedy: "Wait `Retry-After` seconds.", example: "rate limit exceeded, retry in 42 seconds" },
  INTERNAL: { meaning: "A fault in Chartroom; the details are in the server log under the request id.", remedy: "Report it with the `X-Request-Id`.", example: "internal error; see the server log for this request id" },
  DATABASE_UNAVAILABLE: { meaning: "The database is unreachable, too slow or refuses writes; `Retry-After` is set.", remedy: "Retry; operations: check the database (`/readyz`).", example: "the database is unavailable; retry later" },
  NOT_READY: { meaning: "The replica has not yet loaded its data (revocations, overrides) since it started.", remedy: "Retry in a few seconds.", example: "this server is still loading its data (revocations, overrides); retry in a few seconds" },
  DATABASE_BUSY: { meaning: "SQLite is busy with concurrent changes.", remedy: "Retry shortly.", example: "the database is busy with concurrent changes; retry shortly" },
  LICENSE_ISSUING_DISABLED: { meaning: "Issuing a license on a server with no signing key.", remedy: "Set `LICENSE_SIGNING_KEY_FILE`, or issue licenses with your own issuer.", example: "this server has no license signing key (set LICENSE_SIGNING_KEY_FILE)" },
  LICENSE_ALREADY_REVOKED: { meaning: "Revoking a license that is revoked already.", remedy: "Nothing to do.", example: "license 5f0c3a8e-6d2b-4b1e-9a7c-2e4d8f1b0c93 is already revoked" },
};

const REASON_PHRASES: Record<number, string> = {
  400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 408: "Request Timeout", 409: "Conflict",
  413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type", 423: "Locked", 429: "Too Many Requests",
  431: "Request Header Fields Too Large", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
};

/** The HTTP reason phrase the error handler puts in `error`. */
export function reasonPhrase(status: number): string {
  return REASON_PHRASES[status] ?? "Error";
}

/** The markdown of docs/guide/errors.md from the catalogue (`code` → status). */
export function renderErrorCatalogue(statusOf: Record<string, number>, statuses: Record<string, number[]> = errorStatuses()): string {
  const byStatus = new Map<number, string[]>();
  for (const [code, status] of Object.entries(statusOf)) {
    for (const s of new Set([status, ...(statuses[code] ?? [])])) byStatus.set(s, [...(byStatus.get(s) ?? []), code]);
  }
  const lines = [
    "# Error codes",
    "",
    "<!-- Generated from src/errors.ts and src/error-docs.ts by `npx tsx scripts/render-error-catalogue.ts`; test/docs/error-catalogue.test.ts fails when it is not current. -->",
    "",
    "Every error Chartroom answers is JSON with a stable `code` to branch on:",
    "",
    "```json",
    '{"statusCode": 409, "error": "Conflict", "code": "PROMOTION_CONFLICT", "message": "channel stable is at 0.59.2, not 0.58.1", "field": "expectedCurrent"}',
    "```",
    "",
    "`field` and `reason` are present on bad input (the field at fault and why). Messages may be reworded between releases; codes are not. The CLI prints the code and message on stderr and exits 1. Each operation in the OpenAPI document (`/docs`) lists the codes it can answer per status.",
    "",
  ];
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    lines.push(`## ${status} ${reasonPhrase(status)}`, "", "| code | when | what to do |", "|---|---|---|");
    for (const code of byStatus.get(status)!.sort()) {
      const d = ERROR_DOCS[code]?.byStatus?.[status] ?? ERROR_DOCS[code];
      lines.push(`| \`${code}\` | ${d?.meaning ?? "(undocumented)"} | ${d?.remedy ?? ""} |`);
    }
    lines.push("");
  }
  return lines.join("\n");
}
