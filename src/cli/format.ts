// Human-readable output: aligned tables, short dates, chart descriptions.
// Everything shown comes from the server or from files, so control
// characters are removed first (no terminal escape sequences get through).

/** One line of printable text: newlines and tabs become spaces, other control characters go. */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\r\n\t]+/g, " ").replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "");
}

/** Columns separated by two spaces, padded to the widest cell; no trailing blanks. */
export function table(headers: string[], rows: string[][]): string {
  const all = [headers, ...rows].map((r) => headers.map((_, i) => clean(r[i] ?? "")));
  const widths = headers.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n";
}

/** "name: value" lines with the names aligned. */
export function fields(pairs: [string, string][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length)) + 1;
  return pairs.map(([k, v]) => `${`${k}:`.padEnd(width)} ${clean(v)}`.trimEnd()).join("\n") + "\n";
}

/** ISO time to the second: 2026-11-01T10:00:00Z. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "-";
  return iso.replace(/\.\d+Z$/, "Z");
}

export function dash(v: string | null | undefined): string {
  return v === null || v === undefined || v === "" ? "-" : v;
}

/** The three chart shapes of docs/api.md §1, in one short string. */
export function describeChart(chart: Record<string, unknown>): string {
  const s = (k: string) => (typeof chart[k] === "string" ? (chart[k] as string) : "");
  if (s("path")) return `path ${s("path")}`;
  if (s("name")) return `${s("name")} ${s("version")} (${s("url")})`;
  if (s("url")) return `${s("url")} ${s("version")}`;
  return JSON.stringify(chart);
}
