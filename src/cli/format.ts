// Human-readable output: aligned tables, short dates, chart descriptions.
// Everything the CLI prints goes through terminalSafe (main() wraps stdout
// and stderr with it): what it shows comes from the server, from files and
// from error messages, and must not drive the terminal.
import { stripVTControlCharacters } from "node:util";
import YAML from "yaml";

// C0 controls but tab and newline, DEL, C1 controls (U+0080-U+009F: 8-bit
// CSI, OSC, …), and the bidirectional overrides and isolates that reorder
// what is shown (Trojan Source).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/**
 * Text fit for a terminal: escape sequences (CSI, OSC, … through Node's
 * stripVTControlCharacters) removed whole, then every control character
 * but newline and tab (CONTROL). A carriage return goes too (it would let
 * a line overwrite what was printed before it).
 */
export function terminalSafe(text: string): string {
  return stripVTControlCharacters(text).replace(CONTROL, "");
}

/** One line of printable text (a table cell, a field): terminalSafe, newlines and tabs as spaces. */
export function clean(text: string): string {
  return terminalSafe(text).replace(/[\n\t]+/g, " ");
}

/** The \uXXXX escape of one character (valid in JSON strings and in double-quoted YAML). */
function escape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/**
 * JSON for --json: JSON.stringify escapes C0 controls in strings but not
 * DEL, C1 or the bidirectional controls; these are escaped here (\u009b),
 * so the output is the same data and terminalSafe leaves it alone.
 */
export function jsonText(value: unknown): string {
  return `${JSON.stringify(value, null, 2).replace(CONTROL, escape)}\n`;
}

/**
 * YAML to print (values, ready to edit and give back): a string holding a
 * control character is double-quoted, where the `yaml` package escapes C0
 * controls (\e, \r) and this escapes the rest (\u009b), so the output is
 * the same data and terminalSafe leaves it alone.
 */
export function yamlText(value: unknown): string {
  const doc = new YAML.Document(value);
  YAML.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === "string" && new RegExp(CONTROL.source).test(node.value)) node.type = "QUOTE_DOUBLE";
    },
  });
  return doc.toString({ indent: 2 }).replace(CONTROL, escape);
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
