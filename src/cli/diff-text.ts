// A dry run's answer (docs/api.md §7) as a person reads it: the decision,
// the licensees it would reach, and the RFC 6902 diffs as one line per
// change (`+ a.b: 1`, `- a.c: "x"`, `~ a.d: 1 → 2`), coloured on a terminal.
import type { DryRunDto } from "../routes/admin/dto/channels.js";
import { terminalSafe } from "./format.js";

type PatchOp = DryRunDto["valuesDiff"][number];
type Style = "add" | "remove" | "change" | "head";

/** One printed line and how to colour it. */
export interface Line {
  style?: Style;
  text: string;
}

/** SGR codes: green, red, yellow, bold. */
const SGR: Record<Style, string> = { add: "32", remove: "31", change: "33", head: "1" };

/** The lines as plain text (main() makes it terminal-safe). */
export function plain(lines: Line[]): string {
  return lines.map((l) => `${l.text}\n`).join("");
}

/** The lines with ANSI colours: each line's text is made terminal-safe first, so only these codes reach the terminal. */
export function coloured(lines: Line[]): string {
  return lines.map((l) => `${l.style ? `\u001b[${SGR[l.style]}m${terminalSafe(l.text)}\u001b[0m` : terminalSafe(l.text)}\n`).join("");
}

const SIMPLE_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * A JSON pointer as a values path: `/app/image/tag` → `app.image.tag`,
 * `/list/2` → `list[2]`, a key with dots or slashes quoted
 * (`annotations["nginx.ingress.kubernetes.io/proxy-body-size"]`).
 */
export function readablePath(pointer: string): string {
  if (pointer === "") return "(everything)";
  const keys = pointer.slice(1).split("/").map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
  return keys
    .map((k, i) => (/^(0|[1-9]\d*)$/.test(k) ? `[${k}]` : SIMPLE_KEY.test(k) ? (i === 0 ? k : `.${k}`) : `[${JSON.stringify(k)}]`))
    .join("");
}

function shown(v: unknown): string {
  return v === undefined ? "(none)" : JSON.stringify(v);
}

/** One line per change; a `test` only says what the next replace or remove changes. */
export function diffLines(patch: PatchOp[], indent = "  "): Line[] {
  const lines: Line[] = [];
  let tested: { path: string; value: unknown } | undefined;
  for (const op of patch) {
    const path = readablePath(op.path);
    const was = tested?.path === op.path ? tested.value : undefined;
    tested = undefined;
    if (op.op === "test") tested = { path: op.path, value: op.value };
    else if (op.op === "add") lines.push({ style: "add", text: `${indent}+ ${path}: ${shown(op.value)}` });
    else if (op.op === "remove") lines.push({ style: "remove", text: `${indent}- ${path}${was === undefined ? "" : `: ${shown(was)}`}` });
    else if (op.op === "replace") lines.push({ style: "change", text: `${indent}~ ${path}: ${shown(was)} → ${shown(op.value)}` });
    else lines.push({ style: "change", text: `${indent}~ ${path}: ${op.op} from ${readablePath(op.from ?? "")}` });
  }
  return lines;
}

function changes(title: string, patch: PatchOp[]): Line[] {
  const lines = diffLines(patch);
  if (lines.length === 0) return [{ text: `${title}: no change` }];
  return [{ style: "head", text: `${title} (${lines.length} change${lines.length === 1 ? "" : "s"}):` }, ...lines];
}

/** The whole answer of a dry run. */
export function dryRunLines(d: DryRunDto): Line[] {
  const { action, from, to } = d.decision;
  const versions = `${from?.version ?? "no release"} → ${to?.version ?? "no release"}`;
  const decision =
    action === "noop" ? `would change nothing: ${d.message}` : action === "promote" ? `would promote ${d.channel}: ${versions}` : `would roll back ${d.channel}: ${versions}`;
  const by = Object.entries(d.affected.byRelease)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([v, n]) => `${v}: ${n}`)
    .join(", ");
  const n = d.affected.licensees;
  return [
    { style: "head", text: "dry run: nothing was changed" },
    { text: decision },
    { text: `licensees on ${d.channel}: ${n}${n > 0 ? ` (last served ${by})` : ""}` },
    ...(action === "noop" ? [] : [...changes("chart", d.chartDiff), ...changes("values", d.valuesDiff)]),
  ];
}
