// CHART_REGISTRY_AUTH_FILE (docs/api.md §11): the credentials a bundle's
// chart fetches may use, in the format `helm registry login` and
// `docker login` write (`{"auths": {"host[:port]": {"auth": base64(user:password)}}}`).
// Read when the server starts (a bad file stops the boot, naming it) and
// again at each export, so changed credentials apply without a restart.
import { readFileSync } from "node:fs";

/** The `auths` of the file; throws a message naming the file. */
export function readRegistryAuths(file: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`CHART_REGISTRY_AUTH_FILE ${file}: cannot be read as JSON: ${(err as Error).message}`);
  }
  const auths = (doc as { auths?: unknown } | null)?.auths;
  if (typeof auths !== "object" || auths === null || Array.isArray(auths)) throw new Error(`CHART_REGISTRY_AUTH_FILE ${file}: must be a JSON object with an "auths" object ({"auths": {"registry.example.com": {"auth": "<base64 user:password>"}}})`);
  return auths as Record<string, unknown>;
}
