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
