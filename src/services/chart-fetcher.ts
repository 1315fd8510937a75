// Fetches a release's chart archive for a bundle (docs/api.md §11): from a
// Helm repository (index.yaml, then the archive it names, its digest checked
// when the index has one) or an OCI registry (the distribution API: the
// manifest with Helm's media types, a Bearer token or Basic credentials when
// the registry challenges, then the chart layer, its digest checked), and
// checked to be that chart at that version (its Chart.yaml). All of
// the HTTP is here, in get(): node:http(s), a deadline per request, at most
// `maxBytes` read, redirects followed (at most 5; credentials never sent to
// another host), and with `denyPrivate` every address checked at connection
// (src/services/outbound-url.ts). The rules are src/services/chart-sources.ts.
// Every failure is a 502 that names the source URL (src/errors.ts).
import { createHash } from "node:crypto";
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import { parse as parseYaml } from "yaml";
import { readBundle } from "./bundle-archive.js";
import { ChartDigestMismatchError, ChartNotFoundError, ChartSourceError, ChartSourceUnreachableError, ChartTooLargeError } from "../errors.js";
import type { Chart } from "../domain/schemas.js";
import { InternalAddressError, guardedLookup, outboundUrlProblem } from "./outbound-url.js";
import {
  HELM_CHART_MEDIA_TYPE,
  HELM_CONFIG_MEDIA_TYPE,
  IndexMissError,
  OCI_MANIFEST_MEDIA_TYPE,
  basicAuthorization,
  chartFileName,
  credentialsFor,
  findIndexEntry,
  indexUrl,
  ociReference,
  parseChallenge,
  type OciReference,
} from "./chart-sources.js";

const MAX_REDIRECTS = 5;
/** A manifest, an index's error page or a token answer: small. */
const MAX_SMALL_BYTES = 1024 * 1024;

export interface ChartFetcherOptions {
  denyPrivate: boolean;
  /** The most bytes read of one chart archive or index.yaml (BUNDLE_MAX_CHART_BYTES). */
  maxBytes: number;
  /** Each request's deadline (BUNDLE_FETCH_TIMEOUT_MS). */
  timeoutMs: number;
  /** A registry config's `auths` (CHART_REGISTRY_AUTH_FILE), by host[:port]. */
  auths?: Record<string, unknown>;
  /** Registries (host[:port]) spoken to over plain http:// (CHART_PLAIN_HTTP_REGISTRIES), as Helm's --plain-http. */
  plainHttpRegistries?: readonly string[];
}

/** A chart archive fetched for a bundle. */
export interface FetchedChart {
  name: string;
  version: string;
  /** `<name>-<version>.tgz` */
  fileName: string;
  bytes: Buffer;
  /** hex */
  sha256: string;
  /** Where it came from, as the manifest records it (the archive URL, or oci://… @ the layer digest). */
  source: string;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
}

interface GetOptions {
  headers?: Record<string, string>;
  limit: number;
  /** What the bound is, for the message (BUNDLE_MAX_CHART_BYTES). */
  limitName: string;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function reasonOf(err: Error, timeoutMs: number): string {
  if (err.name === "AbortError" || err.name === "TimeoutError") return `no answer within ${timeoutMs} ms`;
  if (err instanceof InternalAddressError) return err.message;
  const code = (err as NodeJS.ErrnoException).code;
  return code ? `${code}${err.message && !err.message.includes(code) ? ` (${err.message})` : ""}` : err.message;
}

/** The first value of a header. */
function header(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export function chartFetcher(opts: ChartFetcherOptions) {
  const plain = new Set((opts.plainHttpRegistries ?? []).map((h) => h.toLowerCase()));
  const auths = opts.auths ?? {};

  /** One GET, redirects followed; resolves with any status, rejects only when no answer came (or it was too big). */
  async function get(url: string, source: string, o: GetOptions): Promise<Answer> {
    let current = url;
    let headers = { ...o.headers };
    const origin = new URL(url).host;
    for (let hop = 0; ; hop++) {
      const problem = outboundUrlProblem(current, opts.denyPrivate);
      if (problem) throw new ChartSourceUnreachableError(`chart source ${source}: ${current} ${problem}`);
      const answer = await getOnce(current, headers, source, o);
      const location = header(answer.headers, "location");
      if (answer.status >= 300 && answer.status < 400 && answer.status !== 304 && location) {
        if (hop >= MAX_REDIRECTS) throw new ChartSourceError(`chart source ${source}: more than ${MAX_REDIRECTS} redirects (last to ${location})`);
        current = new URL(location, current).toString();
        // Credentials go to the host they are for only (a registry redirects blobs to its storage).
        if (new URL(current).host !== origin) {
          headers = { ...headers };
          delete headers.authorization;
        }
        continue;
      }
      return answer;
    }
  }

  function getOnce(url: string, headers: Record<string, string>, source: string, o: GetOptions): Promise<Answer> {
    return new Promise<Answer>((resolve, reject) => {
      const u = new URL(url);
      const request = u.protocol === "https:" ? httpsRequest : httpRequest;
      const req = request(u, {
        method: "GET",
        headers: { "user-agent": "chartroom-bundle", ...headers },
        signal: AbortSignal.timeout(opts.timeoutMs),
        ...(opts.denyPrivate ? { lookup: guardedLookup } : {}),
      });
      const unreachable = (err: Error) => reject(new ChartSourceUnreachableError(`chart source ${source} is unreachable: ${url}: ${reasonOf(err, opts.timeoutMs)}`));
      req.on("error", unreachable);
      req.on("response", (res: IncomingMessage) => {
        const tooLarge = () => new ChartTooLargeError(`chart source ${source}: ${url} answers more than ${o.limit} bytes (${o.limitName})`);
        const declared = Number(header(res.headers, "content-length") ?? NaN);
        if (Number.isFinite(declared) && declared > o.limit) {
          req.destroy();
          return reject(tooLarge());
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          if (size > o.limit) {
            req.destroy();
            return reject(tooLarge());
          }
          chunks.push(c);
        });
        res.on("error", unreachable);
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), url }));
      });
      req.end();
    });
  }

  const big = { limit: opts.maxBytes, limitName: "BUNDLE_MAX_CHART_BYTES" };
  const small = { limit: Math.min(MAX_SMALL_BYTES, opts.maxBytes), limitName: "1 MiB for a manifest or token" };

  function checkDigest(bytes: Buffer, expected: string, source: string, url: string): string {
    const got = sha256(bytes);
    if (got !== expected) throw new ChartDigestMismatchError(`chart source ${source}: ${url} answered an archive with sha256 ${got}, but ${expected} was expected`);
    return got;
  }

  function statusError(a: Answer, source: string, what: string): Error {
    const detail = a.body.toString("utf8").replace(/\s+/g, " ").trim().slice(0, 200);
    const text = `chart source ${source}: ${what} ${a.url} answered HTTP ${a.status}${detail ? `: ${detail}` : ""}`;
    return a.status === 404 ? new ChartNotFoundError(text) : new ChartSourceError(text);
  }

  /** A Helm repository: index.yaml, the entry, the archive. */
  async function fromRepository(chart: { url: string; name: string; version: string }): Promise<FetchedChart> {
    const source = chart.url;
    const at = indexUrl(chart.url);
    const creds = credentialsFor(auths, new URL(at).host);
    const withAuth = async (url: string, o: GetOptions): Promise<Answer> => {
      const first = await get(url, source, o);
      if (first.status !== 401 || !creds || new URL(url).host !== new URL(at).host) return first;
      return get(url, source, { ...o, headers: { ...o.headers, authorization: basicAuthorization(creds) } });
    };
    const index = await withAuth(at, { ...big, headers: { accept: "application/x-yaml, text/yaml, */*" } });
    if (index.status !== 200) throw statusError(index, source, "the index");
    let entry;
    try {
      entry = findIndexEntry(index.body.toString("utf8"), index.url, chart.name, chart.version);
    } catch (err) {
      const text = `chart source ${source}: the index ${at} ${(err as Error).message}`;
      throw err instanceof IndexMissError ? new ChartNotFoundError(text) : new ChartSourceError(text);
    }
    const archive = await withAuth(entry.url, { ...big, headers: { accept: "application/gzip, application/octet-stream, */*" } });
    if (archive.status !== 200) throw statusError(archive, source, "the archive");
    const digest = entry.digest ? checkDigest(archive.body, entry.digest, source, entry.url) : sha256(archive.body);
    return { name: chart.name, version: chart.version, fileName: chartFileName(chart.name, chart.version), bytes: archive.body, sha256: digest, source: entry.url };
  }

  /** An OCI registry: the manifest, the Helm chart layer. */
  async function fromRegistry(chart: { url: string; version: string }): Promise<FetchedChart> {
    const source = `${chart.url}:${chart.version}`;
    let ref: OciReference;
    try {
      ref = ociReference(chart.url, chart.version);
    } catch (err) {
      throw new ChartSourceError(`chart source ${source}: the URL ${(err as Error).message}`);
    }
    const base = `${plain.has(ref.registry.toLowerCase()) ? "http" : "https"}://${ref.registry}/v2/${ref.repository}`;
    const creds = credentialsFor(auths, ref.registry);
    let authorization: string | undefined;

    /** A GET that answers the registry's challenge once: a Bearer token from its realm, or Basic. */
    async function registryGet(url: string, o: GetOptions): Promise<Answer> {
      const withAuth = (a: string | undefined) => ({ ...o, headers: { ...o.headers, ...(a ? { authorization: a } : {}) } });
      const first = await get(url, source, withAuth(authorization));
      if (first.status !== 401) return first;
      const challenge = parseChallenge(header(first.headers, "www-authenticate"));
      if (challenge?.scheme === "bearer") authorization = `Bearer ${await token(challenge.params)}`;
      else if (challenge?.scheme === "basic" && creds) authorization = basicAuthorization(creds);
      else throw new ChartSourceError(`chart source ${source}: ${url} answered HTTP 401 ${creds ? "with a challenge other than Bearer or Basic" : `and no credentials for ${ref.registry} are in CHART_REGISTRY_AUTH_FILE`}`);
      const again = await get(url, source, withAuth(authorization));
      if (again.status === 401 || again.status === 403) throw new ChartSourceError(`chart source ${source}: ${url} refused ${creds ? `the credentials for ${ref.registry} (CHART_REGISTRY_AUTH_FILE)` : "an anonymous token; add credentials for it to CHART_REGISTRY_AUTH_FILE"} (HTTP ${again.status})`);
      return again;
    }

    /** A pull token from the challenge's realm (the distribution token protocol), with Basic credentials when configured. */
    async function token(params: Record<string, string>): Promise<string> {
      const realm = params.realm;
      if (!realm) throw new ChartSourceError(`chart source ${source}: the registry's Bearer challenge names no realm`);
      const u = new URL(realm);
      if (params.service) u.searchParams.set("service", params.service);
      // Always a pull of this chart's repository, whatever scope the challenge asks for.
      u.searchParams.set("scope", `repository:${ref.repository}:pull`);
      // Only the registry's own credentials (docker login's rule: the registry names its token service),
      // never another host's: a registry cannot have a token minted with credentials that are not its own.
      if (creds && u.protocol !== "https:" && !plain.has(ref.registry.toLowerCase())) {
        throw new ChartSourceError(`chart source ${source}: the registry's token service ${u.origin} is not https; its credentials are not sent there`);
      }
      const a = await get(u.toString(), source, { ...small, headers: { accept: "application/json", ...(creds ? { authorization: basicAuthorization(creds) } : {}) } });
      if (a.status !== 200) throw statusError(a, source, "the token service");
      let t: unknown;
      try {
        const doc = JSON.parse(a.body.toString("utf8")) as { token?: unknown; access_token?: unknown };
        t = doc.token ?? doc.access_token;
      } catch {
        t = undefined;
      }
      if (typeof t !== "string" || t === "") throw new ChartSourceError(`chart source ${source}: the token service ${u.origin}${u.pathname} answered no token`);
      return t;
    }

    const manifestUrl = `${base}/manifests/${encodeURIComponent(ref.tag)}`;
    const m = await registryGet(manifestUrl, { ...small, headers: { accept: `${OCI_MANIFEST_MEDIA_TYPE}, application/vnd.docker.distribution.manifest.v2+json;q=0.5` } });
    if (m.status !== 200) throw statusError(m, source, "the manifest");
    const claimed = header(m.headers, "docker-content-digest");
    if (claimed?.startsWith("sha256:") && claimed.slice(7) !== sha256(m.body)) {
      throw new ChartDigestMismatchError(`chart source ${source}: the manifest ${manifestUrl} does not match its Docker-Content-Digest ${claimed}`);
    }
    let manifest: { config?: { mediaType?: unknown }; layers?: { mediaType?: unknown; digest?: unknown; size?: unknown }[] };
    try {
      manifest = JSON.parse(m.body.toString("utf8")) as typeof manifest;
    } catch {
      throw new ChartSourceError(`chart source ${source}: the manifest ${manifestUrl} is not JSON`);
    }
    if (manifest.config?.mediaType !== HELM_CONFIG_MEDIA_TYPE) {
      throw new ChartSourceError(`chart source ${source}: ${manifestUrl} is not a Helm chart (config media type ${JSON.stringify(manifest.config?.mediaType ?? null)}, expected ${HELM_CONFIG_MEDIA_TYPE})`);
    }
    const layer = (manifest.layers ?? []).find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE);
    const digest = typeof layer?.digest === "string" ? /^sha256:([a-f0-9]{64})$/.exec(layer.digest)?.[1] : undefined;
    if (!layer || !digest) throw new ChartSourceError(`chart source ${source}: the manifest ${manifestUrl} has no ${HELM_CHART_MEDIA_TYPE} layer with a sha256 digest`);
    if (typeof layer.size === "number" && layer.size > opts.maxBytes) throw new ChartTooLargeError(`chart source ${source}: the chart layer is ${layer.size} bytes, more than ${opts.maxBytes} (BUNDLE_MAX_CHART_BYTES)`);
    const blobUrl = `${base}/blobs/sha256:${digest}`;
    const blob = await registryGet(blobUrl, { ...big, headers: { accept: HELM_CHART_MEDIA_TYPE } });
    if (blob.status !== 200) throw statusError(blob, source, "the chart layer");
    checkDigest(blob.body, digest, source, blobUrl);
    return { name: ref.name, version: chart.version, fileName: chartFileName(ref.name, chart.version), bytes: blob.body, sha256: digest, source: `${chart.url}@sha256:${digest}` };
  }

  /**
   * The archive is the chart asked for: a gzip'd tar whose `<dir>/Chart.yaml`
   * names it at that version (what Helm's loader and the operator will read).
   */
  async function checkArchive(f: FetchedChart, source: string): Promise<FetchedChart> {
    let files: Map<string, Buffer>;
    try {
      // Unpacked, at most four times the archive's bound: a gzip bomb is refused, not held in memory.
      files = await readBundle(Readable.from([f.bytes]), { maxBytes: opts.maxBytes * 4 });
    } catch (err) {
      throw new ChartSourceError(`chart source ${source}: ${f.source} is not a chart archive: ${(err as Error).message}`);
    }
    const chartYaml = [...files.keys()].find((p) => /^[^/]+\/Chart\.yaml$/.test(p));
    if (!chartYaml) throw new ChartSourceError(`chart source ${source}: ${f.source} is not a Helm chart (no <chart>/Chart.yaml)`);
    let meta: { name?: unknown; version?: unknown } | null;
    try {
      meta = parseYaml(files.get(chartYaml)!.toString("utf8"), { schema: "failsafe" }) as typeof meta;
    } catch {
      meta = null;
    }
    if (meta?.name !== f.name || meta.version !== f.version) {
      throw new ChartSourceError(`chart source ${source}: ${f.source} holds chart ${String(meta?.name)} ${String(meta?.version)}, not ${f.name} ${f.version}`);
    }
    return f;
  }

  return {
    /** The chart's archive; null for a local chart ({path}), which a bundle references and never copies. */
    async fetch(chart: Chart): Promise<FetchedChart | null> {
      if ("path" in chart) return null;
      if (chart.url.startsWith("oci://")) return checkArchive(await fromRegistry(chart as { url: string; version: string }), `${chart.url}:${chart.version}`);
      return checkArchive(await fromRepository(chart as { url: string; name: string; version: string }), chart.url);
    },
  };
}
export type ChartFetcher = ReturnType<typeof chartFetcher>;
