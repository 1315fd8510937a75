// A values diff between two releases, computed in the page: every leaf
// (JSON-pointer path) added, removed or changed. No DOM here, so the unit
// test (test/console/assets.test.ts) runs it in Node.
export interface Change {
  op: "add" | "remove" | "replace";
  path: string;
  from?: unknown;
  to?: unknown;
}

function pointer(parts: string[]): string {
  return parts.map((p) => "/" + p.replace(/~/g, "~0").replace(/\//g, "~1")).join("") || "/";
}

function leaves(v: unknown, at: string[], out: Map<string, unknown>): void {
  if (v !== null && typeof v === "object" && Object.keys(v).length > 0) {
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) leaves(child, [...at, k], out);
  } else {
    out.set(pointer(at), v);
  }
}

export function valuesDiff(a: unknown, b: unknown): Change[] {
  const from = new Map<string, unknown>();
  const to = new Map<string, unknown>();
  leaves(a, [], from);
  leaves(b, [], to);
  const changes: Change[] = [];
  for (const [path, v] of from) {
    if (!to.has(path)) changes.push({ op: "remove", path, from: v });
    else if (JSON.stringify(v) !== JSON.stringify(to.get(path))) changes.push({ op: "replace", path, from: v, to: to.get(path) });
  }
  for (const [path, v] of to) if (!from.has(path)) changes.push({ op: "add", path, to: v });
  return changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}
