// Argument parsing for the CLI: node:util parseArgs (strict), the options
// every command accepts, and typed accessors. A bad command line is a
// UsageError, which main() turns into exit code 2.
import { parseArgs } from "node:util";

/** A command line the CLI cannot run: exit 2 with the command's usage. */
export class UsageError extends Error {
  constructor(message: string) {
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
  try {
    const { values, positionals } = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: values as Parsed["values"], positionals };
  } catch (err) {
    // parseArgs' messages name the option and say what is wrong; drop its
    // advice about "--" (a leading dash is never a valid value here).
    const msg = (err as Error).message.replace(/\s*To specify a positional argument.*$/s, "").replace(/\.$/, "");
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
