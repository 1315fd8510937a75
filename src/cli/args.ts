// Argument parsing for the CLI: node:util parseArgs (strict), the options
// every command accepts, and typed accessors. A bad command line is a
// UsageError, which main() turns into exit code 2.
import { parseArgs } from "node:util";
import { didYouMean } from "./suggest.js";

/** A command line the CLI cannot run: exit 2 with the command's usage. */
export class UsageError extends Error {
  /** `showUsage` false: the message says all (a name that matches nothing known), no usage line after it. */
  constructor(
    message: string,
    readonly showUsage = true,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

export interface OptionSpec {
  type: "string" | "boolean";
  multiple?: boolean;
  short?: string;
}

/** Accepted by every command. */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  url: { type: "string" },
};

export interface Parsed {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export function parse(args: string[], options: Record<string, OptionSpec> = {}): Parsed {
  const all = { ...GLOBAL_OPTIONS, ...options };
  try {
    const { values, positionals } = parseArgs({ args, options: all, allowPositionals: true, strict: true });
    return { values: values as Parsed["values"], positionals };
  } catch (err) {
    // parseArgs' messages name the option and say what is wrong; drop its
    // advice about "--" (a leading dash is never a valid value here).
    let msg = (err as Error).message.replace(/\s*To specify a positional argument.*$/s, "").replace(/\.$/, "");
    const unknown = (err as { code?: string }).code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" ? /'--?([^'=]+)/.exec(msg)?.[1] : undefined;
    if (unknown !== undefined) msg += didYouMean(unknown, Object.keys(all), (o) => `--${o}`);
    throw new UsageError(msg);
  }
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.values[name];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw new UsageError(`--${name} takes a value`);
  return v;
}

export function required(p: Parsed, name: string, what = "a value"): string {
  const v = str(p, name);
  if (v === undefined || v.trim() === "") throw new UsageError(`--${name} ${what} is required`);
  return v;
}

export function bool(p: Parsed, name: string): boolean {
  return p.values[name] === true;
}

export function list(p: Parsed, name: string): string[] {
  const v = p.values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

/** --NAME a,b --NAME c: every value, split on commas, blanks trimmed, empty entries dropped. */
export function commaList(p: Parsed, name: string): string[] {
  return list(p, name)
    .flatMap((v) => v.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** --limit N: an integer 1..200 (what the server's paging accepts). */
export function limit(p: Parsed): number | undefined {
  const v = str(p, "limit");
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 200) throw new UsageError(`--limit must be a whole number from 1 to 200 (got ${JSON.stringify(v)})`);
  return Number(v);
}

/** Exactly `names.length` positionals, named in the message when missing. */
export function positionals(p: Parsed, names: string[]): string[] {
  if (p.positionals.length < names.length) throw new UsageError(`missing ${names.slice(p.positionals.length).join(" and ")}`);
  if (p.positionals.length > names.length) throw new UsageError(`unexpected argument ${JSON.stringify(p.positionals[names.length])}`);
  return p.positionals;
}

const DURATION = /^(\d{1,9})([mhdw])$/;
const MINUTES = { m: 1, h: 60, d: 1440, w: 10080 } as const;
const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-](\d{2}):(\d{2}))?)?$/;

/** Minutes in a duration such as 30m, 12h, 30d, 2w (undefined if `text` is not one). */
function durationMinutes(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  return m ? Number(m[1]) * MINUTES[m[2] as keyof typeof MINUTES] : undefined;
}

/** The parts of an ISO 8601 date or date-time, if they name a real moment. */
function isoParts(text: string): RegExpExecArray | undefined {
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, , oh, om] = m.slice(1).map((x) => Number(x ?? 0)) as number[];
  const day = new Date(Date.UTC(y!, mo! - 1, d!));
  // Date.UTC rolls 2027-02-30 over into March: a real date survives the round trip.
  if (day.getUTCFullYear() !== y || day.getUTCMonth() !== mo! - 1 || day.getUTCDate() !== d) return undefined;
  if (h! > 23 || mi! > 59 || s! > 59 || oh! > 23 || om! > 59) return undefined;
  return m;
}

/**
 * --NAME as a point in time: an ISO 8601 date-time with a time zone
 * (2027-01-31T00:00:00Z, 2027-01-31T09:00+02:00), a date (midnight UTC), or
 * a duration from now (90m, 12h, 30d, 52w). Returned as an ISO date-time in UTC.
 */
export function dateOrDuration(p: Parsed, name: string, now = Date.now()): string | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const help = `use an ISO 8601 date-time such as 2027-01-31T00:00:00Z, or a duration from now such as 12h or 30d`;
  const minutes = durationMinutes(v);
  let at: Date;
  if (minutes !== undefined) {
    if (minutes === 0) throw new UsageError(`--${name} ${JSON.stringify(v)}: a duration must be more than zero`);
    // Whole seconds: a license's exp claim has no fractions.
    at = new Date(Math.floor(now / 1000) * 1000 + minutes * 60_000);
  } else {
    const m = isoParts(v.trim());
    if (!m) throw new UsageError(`--${name} ${JSON.stringify(v)}: ${help}`);
    if (m[4] !== undefined && m[7] === undefined) throw new UsageError(`--${name} ${JSON.stringify(v)}: give a time zone (Z or an offset such as +02:00)`);
    at = new Date(m[4] === undefined ? `${m[1]}-${m[2]}-${m[3]}T00:00:00Z` : v.trim());
  }
  if (Number.isNaN(at.getTime()) || at.getUTCFullYear() > 9999) throw new UsageError(`--${name} ${JSON.stringify(v)}: too far in the future`);
  return at.toISOString();
}

/** --NAME as hours, from a duration such as 30m, 24h, 7d or 2w (0 to 366 days). */
export function hours(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const minutes = durationMinutes(v);
  if (minutes === undefined) throw new UsageError(`--${name} ${JSON.stringify(v)}: use a number and a unit, e.g. 30m, 24h, 7d`);
  if (minutes > 366 * 1440) throw new UsageError(`--${name} ${v}: at most 366d`);
  return minutes / 60;
}
