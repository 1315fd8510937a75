// Where a release's chart comes from, and how to ask for it (docs/api.md
// §11): the pure rules of the chart fetcher (src/services/chart-fetcher.ts),
// which does the HTTP. A Helm repository's index.yaml names the archive
// (relative to the index or absolute) and usually its sha256; an OCI chart
// is a registry repository and tag (the distribution API, Helm's media
// types); a local chart ({path}) is the operator's own file and is never
// fetched.
import { parse as parseYaml } from "yaml";

/** Helm's OCI media types (helm.sh/helm/v3/pkg/registry). */
export const HELM_CONFIG_MEDIA_TYPE = "application/vnd.cncf.helm.config.v1+json";
export const HELM_CHART_MEDIA_TYPE = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";
export const OCI_MANIFEST_MEDIA_TYPE = "application/vnd.oci.image.manifest.v1+json";

/** The file name Helm gives a packaged chart: `<name>-<version>.tgz`. */
export function chartFileName(name: string, version: string): string {
  return `${name}-${version}.tgz`;
}

export interface OciReference {
  /** host[:port] */
  registry: string;
  /** The repository path in the registry (`wandb/charts/operator-wandb`). */
  repository: string;
  /** The chart's name: the repository's last segment. */
  name: string;
  /** The tag: the version, `+` written `_` (OCI tags cannot hold `+`; Helm does the same). */
  tag: string;
}

/** An `oci://host/path/name` chart URL and its version as a registry reference; throws a reason. */
export function ociReference(url: string, version: string): OciReference {
  if (!url.startsWith("oci://")) throw new Error("is not an oci:// URL");
  const rest = url.slice("oci://".length).replace(/\/+$/, "");
  const slash = rest.indexOf("/");
  if (slash <= 0 || slash === rest.length - 1) throw new Error("must name a repository after the host (oci://host/path/chart)");
  const registry = rest.slice(0, slash);
  const repository = rest.slice(slash + 1);
  if (/[@:]/.test(repository)) throw new Error("must not carry a tag or digest; the version is the tag");
  if (!/^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/.test(repository)) throw new Error(`has an invalid repository name ${JSON.stringify(repository)}`);
  return { registry, repository, name: repository.slice(repository.lastIndexOf("/") + 1), tag: version.replace(/\+/g, "_") };
}

export interface IndexEntry {
  /** The archive's absolute URL. */
  url: string;
  /** The sha256 (hex) the index gives, if any. */
  digest: string | undefined;
}

/** The index.yaml URL of a Helm repository URL (with or without a trailing slash). */
export function indexUrl(repoUrl: string): string {
  return new URL("index.yaml", repoUrl.endsWith("/") ? repoUrl : `${repoUrl}/`).toString();
}

/**
 * The entry of chart `name` at `version` in a Helm repository's index.yaml:
 * its first URL, resolved against the index's own URL when relative (as
 * Helm does), and its digest. Throws a reason when the index is not one or
 * does not list the chart at that version.
 */
export function findIndexEntry(indexText: string, indexAt: string, name: string, version: string): IndexEntry {
  let doc: unknown;
  try {
    // Every scalar a string (YAML's failsafe schema): Helm writes digests unquoted, and one of
    // digits only (or digits and one e) would otherwise read as a number.
    doc = parseYaml(indexText, { maxAliasCount: 100, schema: "failsafe" });
  } catch (err) {
    throw new Error(`is not YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const entries = (doc as { entries?: unknown } | null)?.entries;
  if (typeof entries !== "object" || entries === null) throw new Error("is not a Helm repository index (no entries)");
  const list = (entries as Record<string, unknown>)[name];
  if (!Array.isArray(list)) throw new IndexMissError(`does not list chart ${name}`);
  const entry = list.find((e: unknown) => typeof e === "object" && e !== null && String((e as { version?: unknown }).version) === version) as { urls?: unknown; digest?: unknown } | undefined;
  if (!entry) throw new IndexMissError(`lists chart ${name} but not version ${version}`);
  const first = Array.isArray(entry.urls) ? entry.urls.find((u: unknown) => typeof u === "string" && u !== "") : undefined;
  if (typeof first !== "string") throw new Error(`lists ${name} ${version} without a URL`);
  let url: string;
  try {
    url = new URL(first, indexAt).toString();
  } catch {
    throw new Error(`lists ${name} ${version} at ${JSON.stringify(first)}, which is not a URL`);
  }
  const digest = typeof entry.digest === "string" && entry.digest !== "" ? entry.digest.replace(/^sha256:/, "").toLowerCase() : undefined;
  return { url, digest };
}

/** The index answered, but does not hold the chart asked for. */
export class IndexMissError extends Error {}

export interface Challenge {
  scheme: "bearer" | "basic";
  params: Record<string, string>;
}

/**
 * The first challenge of a WWW-Authenticate header (RFC 7235), its scheme
 * lowercased and its parameters unquoted: `Bearer realm="…",service="…",scope="…"`.
 * Undefined for a scheme other than Bearer or Basic, or no header.
 */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme !== "bearer" && scheme !== "basic") return undefined;
  const params: Record<string, string> = {};
  const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))\s*(?:,|$)/g;
  let p: RegExpExecArray | null;
  const rest = m[2]!;
  while ((p = re.exec(rest)) !== null) params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  return { scheme, params };
}

export interface Credentials {
  username: string;
  password: string;
}

/**
 * Credentials for a host from a Docker/Helm registry config
 * (`{"auths": {"host[:port]": {"auth": base64(user:password)} | {"username", "password"}}}`),
 * the file `helm registry login` and `docker login` write. Keys may carry a
 * scheme or path (`https://host/v1/`), as Docker's do; they match on host[:port].
 */
export function credentialsFor(auths: Record<string, unknown>, host: string): Credentials | undefined {
  for (const [key, value] of Object.entries(auths)) {
    const keyHost = key.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "").replace(/\/.*$/, "").toLowerCase();
    if (keyHost !== host.toLowerCase() || typeof value !== "object" || value === null) continue;
    const v = value as { auth?: unknown; username?: unknown; password?: unknown };
    if (typeof v.username === "string" && typeof v.password === "string") return { username: v.username, password: v.password };
    if (typeof v.auth === "string") {
      const text = Buffer.from(v.auth, "base64").toString("utf8");
      const colon = text.indexOf(":");
      if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1) };
    }
  }
  return undefined;
}

/** The `Authorization: Basic …` value of credentials. */
export function basicAuthorization(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`, "utf8").toString("base64")}`;
}
