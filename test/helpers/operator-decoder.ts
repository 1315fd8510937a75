// A TypeScript port of how the W&B operator's deployer client decodes a
// spec (pkg/wandb/spec/channel/deployer/deployer.go, pkg/wandb/spec/charts):
// metadata as map[string]string, values as map[string]interface{}, and the
// chart tried as Local, then OCI, then Repo — the first that unmarshals and
// validates wins. A decode failure throws, as Go's json.Unmarshal would.

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Go's unmarshal of an object into a struct of string fields: a wrong type fails. */
function stringFields(v: Json, fields: string[]): Record<string, string> | null {
  if (!isObject(v)) return null;
  const out: Record<string, string> = {};
  for (const f of fields) {
    const x = v[f];
    if (x === undefined || x === null) out[f] = "";
    else if (typeof x === "string") out[f] = x;
    else return null;
  }
  return out;
}

function hasHost(url: string): boolean {
  try {
    const u = new URL(url.toLowerCase());
    return u.protocol.length > 1 && u.host.length > 0;
  } catch {
    return false;
  }
}

export type ChartKind = "local" | "oci" | "repo";

export function decodeAsOperator(body: string): { metadata: Record<string, string>; values: Record<string, Json>; chart: Record<string, string>; chartKind: ChartKind } {
  const doc = JSON.parse(body) as Json;
  if (!isObject(doc)) throw new Error("json: cannot unmarshal into SpecUnknownChart");
  const metadata = doc.metadata ?? null;
  if (metadata !== null) {
    if (!isObject(metadata)) throw new Error("json: cannot unmarshal metadata into map[string]string");
    for (const [k, v] of Object.entries(metadata)) if (typeof v !== "string") throw new Error(`json: cannot unmarshal ${typeof v} into metadata.${k} of type string`);
  }
  const values = doc.values ?? null;
  if (values !== null && !isObject(values)) throw new Error("json: cannot unmarshal values into map[string]interface{}");

  const chart = doc.chart;
  let decoded: { kind: ChartKind; chart: Record<string, string> } | null = null;
  const local = stringFields(chart, ["path"]);
  if (local && local.path !== "") decoded = { kind: "local", chart: { path: local.path! } };
  if (!decoded) {
    const oci = stringFields(chart, ["url", "version"]);
    if (oci && oci.url!.startsWith("oci://") && oci.version !== "") decoded = { kind: "oci", chart: { url: oci.url!, version: oci.version! } };
  }
  if (!decoded) {
    const repo = stringFields(chart, ["url", "name", "version"]);
    if (repo && repo.url !== "" && hasHost(repo.url!) && !repo.url!.startsWith("oci://") && repo.name !== "") {
      decoded = { kind: "repo", chart: { url: repo.url!, name: repo.name!, version: repo.version! } };
    }
  }
  if (!decoded) throw new Error("no chart type matched: the operator would report InvalidConfig");
  return { metadata: (metadata ?? {}) as Record<string, string>, values: (values ?? {}) as Record<string, Json>, chart: decoded.chart, chartKind: decoded.kind };
}

/**
 * How the operator loads a local chart (pkg/wandb/spec/charts/local.go,
 * LocalRelease.Chart): the file is read; if its text is base64
 * (Go's StdEncoding, which skips line breaks) the decoded bytes are the
 * archive, else the file itself is (Helm's loader.Load). The archive must
 * hold `<chart>/Chart.yaml`, as Helm's loader wants; answers its name and
 * version. Throws as the operator would fail.
 */
export async function loadLocalChartAsOperator(file: string): Promise<{ name: string; version: string; files: string[] }> {
  const { readFileSync } = await import("node:fs");
  const { Readable } = await import("node:stream");
  const { readBundle } = await import("../../src/services/bundle-archive.js");
  const { parse } = await import("yaml");
  const raw = readFileSync(file);
  const text = raw.toString("latin1").replace(/[\r\n]/g, "");
  const isBase64 = text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
  const archive = isBase64 ? Buffer.from(text, "base64") : raw;
  const files = await readBundle(Readable.from([archive]), { maxBytes: 64 * 1024 * 1024 });
  const chartYaml = [...files.keys()].find((p) => /^[^/]+\/Chart\.yaml$/.test(p));
  if (!chartYaml) throw new Error(`${file}: Chart.yaml file is missing (Helm's loader)`);
  const meta = parse(files.get(chartYaml)!.toString("utf8")) as { name?: unknown; version?: unknown };
  if (typeof meta.name !== "string" || typeof meta.version !== "string") throw new Error(`${file}: Chart.yaml has no name or version`);
  return { name: meta.name, version: meta.version, files: [...files.keys()].sort() };
}
