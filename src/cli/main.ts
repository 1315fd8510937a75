// `chartroom`: the command-line tool (bin/chartroom.js runs main()).
//
// Exit codes: 0 done; 1 the server (or the database) refused, with
// "error: CODE: message" on stderr; 2 a usage or configuration error;
// 3 the server (or the database) cannot be reached.
//
// main() takes its environment and output streams as arguments, so tests
// drive it without spawning a process.
import { ApiError, DEFAULT_URL, UnreachableError, createClient, parseBaseUrl, type Client } from "./client.js";
import { UsageError, bool, commaList, dateOrDuration, hours, limit, list, parse, positionals, required, str, type OptionSpec, type Parsed } from "./args.js";
import * as freeze from "./freeze.js";
import * as rollout from "./rollout.js";
import * as licenses from "./licenses.js";
import * as webhooks from "./webhooks.js";
import { DatabaseUnreachableError, LocalError, applyModeNote, applyText, migrateText, mintDevLicense, mintToken, runApply, runMigrate } from "./local.js";
import * as remote from "./remote.js";
import { MAX_INPUT_BYTES } from "./remote.js";
import { formatBytes } from "../services/declaration-files.js";
import { jsonText, terminalSafe } from "./format.js";
import type { Result } from "./remote.js";

export interface Output {
  write(chunk: string): unknown;
  /** A terminal (process.stdout has it): colours are printed only to one. */
  isTTY?: boolean;
}

export interface Io {
  stdout: Output;
  stderr: Output;
  env: Record<string, string | undefined>;
  /** Read for "-" in place of a file (license values set SUB -). */
  stdin: AsyncIterable<string | Uint8Array>;
}

interface Cx {
  io: Io;
  client(p: Parsed): Client;
}

interface Command {
  usage: string;
  summary: string;
  options?: Record<string, OptionSpec>;
  run(p: Parsed, cx: Cx): Promise<Result>;
}

const page: Record<string, OptionSpec> = { limit: { type: "string" }, cursor: { type: "string" } };

/** `rollout pause|resume|abort CHANNEL --reason TEXT`. */
function control(what: "pause" | "resume" | "abort", summary: string): Command {
  return {
    usage: `rollout ${what} CHANNEL --reason TEXT`,
    summary,
    options: { reason: { type: "string" } },
    async run(p, cx) {
      const [name] = positionals(p, ["CHANNEL"]);
      return rollout.control(cx.client(p), name!, what, { reason: required(p, "reason", "TEXT") });
    },
  };
}

/** promote's --steps, --include, --exclude, --salt: a staged rollout, or undefined without --steps. */
function rolloutOptions(p: Parsed): rollout.RolloutOptions | undefined {
  const steps = str(p, "steps");
  const include = commaList(p, "include");
  const exclude = commaList(p, "exclude");
  const salt = str(p, "salt");
  if (steps === undefined) {
    const stray = (["include", "exclude", "salt"] as const).filter((o) => p.values[o] !== undefined);
    if (stray.length > 0) throw new UsageError(`${stray.map((o) => `--${o}`).join(", ")} need --steps (a staged rollout), e.g. --steps 5:2h,25:12h,100`);
    return undefined;
  }
  return { steps: rollout.parseSteps(steps), include, exclude, salt };
}

/** The console's sign-in link: the token in the fragment (never sent to the server; console/session.ts reads it). */
export function consoleLink(baseUrl: string, token: string): string {
  const u = parseBaseUrl(baseUrl);
  return `${u.origin}${u.pathname.replace(/\/+$/, "")}/console/#token=${encodeURIComponent(token)}`;
}

const COMMANDS: Record<string, Command> = {
  token: {
    usage: "token --sub NAME --role ROLE [--role ROLE2] [--ttl 1h]",
    summary: "mint an admin token from ADMIN_JWT_SECRET (or the development secret); prints the token only",
    options: { sub: { type: "string" }, role: { type: "string", multiple: true }, ttl: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      const t = mintToken(cx.io.env, cx.io.stderr, { sub: required(p, "sub", "NAME"), roles: list(p, "role"), ttl: str(p, "ttl") ?? "1h" });
      return { json: t, text: `${t.token}\n` };
    },
  },
  console: {
    usage: "console [--sub NAME --role ROLE [--ttl 1h]]",
    summary: "print a one-time sign-in link to the web console (/console): the token minted like chartroom token, or CHARTROOM_TOKEN without --sub, in the link's fragment, which the browser never sends",
    options: { sub: { type: "string" }, role: { type: "string", multiple: true }, ttl: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      const sub = str(p, "sub");
      let token = cx.io.env.CHARTROOM_TOKEN?.trim();
      if (sub !== undefined) token = mintToken(cx.io.env, cx.io.stderr, { sub, roles: list(p, "role"), ttl: str(p, "ttl") ?? "1h" }).token;
      if (!token) throw new UsageError("--sub NAME and --role ROLE are required (or set CHARTROOM_TOKEN)");
      const link = consoleLink(str(p, "url") ?? (cx.io.env.CHARTROOM_URL?.trim() || DEFAULT_URL), token);
      return { json: { link }, text: `${link}\n`, note: "Open it in a browser; the token stays in that tab until you sign out or it expires.\n" };
    },
  },
  "license dev": {
    usage: "license dev --sub NAME [--channel stable] [--ttl 30d]",
    summary: "mint a development license with the server's signing key; prints the token only",
    options: { sub: { type: "string" }, channel: { type: "string" }, ttl: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      const l = mintDevLicense(cx.io.env, cx.io.stderr, { sub: required(p, "sub", "NAME"), channel: str(p, "channel"), ttl: str(p, "ttl") ?? "30d" });
      return { json: l, text: `${l.token}\n` };
    },
  },
  "license issue": {
    usage: "license issue --sub NAME --channel CHANNEL [--expires ISO-DATE|30d] [--notes TEXT]",
    summary: "issue a license signed by the server (default expiry: one year); prints the token only, a summary on stderr",
    options: { sub: { type: "string" }, channel: { type: "string" }, expires: { type: "string" }, notes: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      return licenses.licenseIssue(cx.client(p), {
        sub: required(p, "sub", "NAME"),
        channel: required(p, "channel", "CHANNEL"),
        expiresAt: dateOrDuration(p, "expires"),
        notes: str(p, "notes"),
      });
    },
  },
  "license list": {
    usage: "license list",
    summary: "licenses issued by the server and revocations, newest first (never their tokens)",
    async run(p, cx) {
      positionals(p, []);
      return licenses.licenseList(cx.client(p));
    },
  },
  "license revoke": {
    usage: "license revoke JTI --reason TEXT",
    summary: "revoke a license (issued here or elsewhere) by its jti",
    options: { reason: { type: "string" } },
    async run(p, cx) {
      const [jti] = positionals(p, ["JTI"]);
      return licenses.licenseRevoke(cx.client(p), jti!, required(p, "reason", "TEXT"));
    },
  },
  "license values show": {
    usage: "license values show SUB",
    summary: "a licensee's values override, as YAML",
    async run(p, cx) {
      const [sub] = positionals(p, ["SUB"]);
      return licenses.valuesShow(cx.client(p), sub!);
    },
  },
  "license values set": {
    usage: "license values set SUB FILE.yaml|-",
    summary: "set a licensee's values override from a YAML or JSON file (- for stdin), merged last into that licensee's spec only",
    async run(p, cx) {
      const [sub, file] = positionals(p, ["SUB", "FILE"]);
      const values = await licenses.readValues(file!, () => readAll(cx.io.stdin));
      return licenses.valuesSet(cx.client(p), sub!, values);
    },
  },
  "license values unset": {
    usage: "license values unset SUB",
    summary: "remove a licensee's values override",
    async run(p, cx) {
      const [sub] = positionals(p, ["SUB"]);
      return licenses.valuesUnset(cx.client(p), sub!);
    },
  },
  fleet: {
    usage: "fleet [--channel CHANNEL] [--not-seen-for 24h]",
    summary: "the fleet: every licensee that polls (channel, release served, last seen, license state), then releases per channel",
    options: { channel: { type: "string" }, "not-seen-for": { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      return licenses.fleet(cx.client(p), { channel: str(p, "channel"), notSeenForHours: hours(p, "not-seen-for") });
    },
  },
  resolve: {
    usage: "resolve SUB [--channel NAME]",
    summary: "what a licensee's poll gets now (release, ETag) and why; without --channel, the server's LICENSE_DEFAULT_CHANNEL; SUB (anonymous): an anonymous poll",
    options: { channel: { type: "string" } },
    async run(p, cx) {
      const [sub] = positionals(p, ["SUB"]);
      return remote.resolve(cx.client(p), sub!, str(p, "channel"));
    },
  },
  channels: {
    usage: "channels",
    summary: "list channels with their current release",
    async run(p, cx) {
      positionals(p, []);
      return remote.channels(cx.client(p));
    },
  },
  channel: {
    usage: "channel NAME",
    summary: "show a channel, its default values and recent history",
    async run(p, cx) {
      const [name] = positionals(p, ["NAME"]);
      return remote.channel(cx.client(p), name!);
    },
  },
  releases: {
    usage: "releases [--limit N] [--cursor C]",
    summary: "list releases, newest first",
    options: page,
    async run(p, cx) {
      positionals(p, []);
      return remote.releases(cx.client(p), { limit: limit(p), cursor: str(p, "cursor") });
    },
  },
  "release show": {
    usage: "release show VERSION",
    summary: "show one release (by version or id)",
    async run(p, cx) {
      const [version] = positionals(p, ["VERSION"]);
      return remote.releaseShow(cx.client(p), version!);
    },
  },
  "release create": {
    usage: "release create FILE.yaml",
    summary: "create an immutable release from a YAML or JSON file",
    async run(p, cx) {
      const [file] = positionals(p, ["FILE"]);
      return remote.releaseCreate(cx.client(p), file!);
    },
  },
  promote: {
    usage:
      "promote VERSION --to CHANNEL [--from CHANNEL] [--expect CURRENT|none] [--allow-downgrade] [--reason TEXT] [--dry-run] [--steps 5:2h,25:12h,100 [--include SUB,…] [--exclude SUB,…] [--salt S]]",
    summary:
      "move a channel to a release, under the promotion rules (--dry-run: show what would change, change nothing; --steps PERCENT[:BAKE],…: a staged rollout to a growing share of the licensees, --include/--exclude licensees always/never in it, see chartroom rollout status)",
    options: {
      to: { type: "string" },
      from: { type: "string" },
      expect: { type: "string" },
      "allow-downgrade": { type: "boolean" },
      reason: { type: "string" },
      "dry-run": { type: "boolean" },
      steps: { type: "string" },
      include: { type: "string", multiple: true },
      exclude: { type: "string", multiple: true },
      salt: { type: "string" },
    },
    async run(p, cx) {
      const [version] = positionals(p, ["VERSION"]);
      return remote.promote(cx.client(p), version!, {
        to: required(p, "to", "CHANNEL"),
        from: str(p, "from"),
        expect: str(p, "expect"),
        allowDowngrade: bool(p, "allow-downgrade"),
        reason: str(p, "reason"),
        dryRun: bool(p, "dry-run"),
        rollout: rolloutOptions(p),
      });
    },
  },
  rollback: {
    usage: "rollback CHANNEL --reason TEXT [--to VERSION] [--dry-run]",
    summary: "roll a channel back (default: to the release before the current one; --dry-run: show what would change, change nothing)",
    options: { reason: { type: "string" }, to: { type: "string" }, "dry-run": { type: "boolean" } },
    async run(p, cx) {
      const [name] = positionals(p, ["CHANNEL"]);
      return remote.rollback(cx.client(p), name!, { reason: required(p, "reason", "TEXT"), to: str(p, "to"), dryRun: bool(p, "dry-run") });
    },
  },
  yank: {
    usage: "yank VERSION --reason TEXT [--rollback]",
    summary: "yank a release: it is never promoted or pinned again; prints the channels still serving it (--rollback: roll each of them back in the same request)",
    options: { reason: { type: "string" }, rollback: { type: "boolean" } },
    async run(p, cx) {
      const [version] = positionals(p, ["VERSION"]);
      return remote.yank(cx.client(p), version!, required(p, "reason", "TEXT"), bool(p, "rollback"));
    },
  },
  history: {
    usage: "history CHANNEL [--limit N] [--cursor C]",
    summary: "every change of a channel's release, newest first",
    options: page,
    async run(p, cx) {
      const [name] = positionals(p, ["CHANNEL"]);
      return remote.history(cx.client(p), name!, { limit: limit(p), cursor: str(p, "cursor") });
    },
  },
  audit: {
    usage: "audit [--limit N] [--cursor C] [--action A] [--target T] [--target-type channel|release]",
    summary: "the audit log of admin changes, newest first",
    options: { ...page, action: { type: "string" }, target: { type: "string" }, "target-type": { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      return remote.audit(cx.client(p), { limit: limit(p), cursor: str(p, "cursor"), action: str(p, "action"), target: str(p, "target"), targetType: str(p, "target-type") });
    },
  },
  "freeze on": {
    usage: "freeze on --reason TEXT [--until ISO-DATE|2h]",
    summary: "stop the line: refuse every promotion on every replica (admin role) until lifted or --until",
    options: { reason: { type: "string" }, until: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      return freeze.freezeOn(cx.client(p), { reason: required(p, "reason", "TEXT"), until: dateOrDuration(p, "until") });
    },
  },
  "freeze off": {
    usage: "freeze off --reason TEXT",
    summary: "lift the freeze: promotions work again (admin role)",
    options: { reason: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      return freeze.freezeOff(cx.client(p), required(p, "reason", "TEXT"));
    },
  },
  "freeze status": {
    usage: "freeze status",
    summary: "whether promotions are frozen, why, by whom and until when",
    async run(p, cx) {
      positionals(p, []);
      return freeze.freezeStatus(cx.client(p));
    },
  },
  "rollout status": {
    usage: "rollout status CHANNEL",
    summary: "a channel's active (or last) rollout: its state, steps, cohort rules, when the next step begins, the licensees it reaches",
    async run(p, cx) {
      const [name] = positionals(p, ["CHANNEL"]);
      return rollout.status(cx.client(p), name!);
    },
  },
  "rollout pause": control("pause", "hold the active rollout at its step (nobody joins or leaves the cohort)"),
  "rollout resume": control("resume", "let a paused or halted rollout go on (refused while frozen)"),
  "rollout advance": {
    usage: "rollout advance CHANNEL --reason TEXT [--force]",
    summary: "end the current step now (the last one: the channel's release becomes the target); --force skips the gates (admin role)",
    options: { reason: { type: "string" }, force: { type: "boolean" } },
    async run(p, cx) {
      const [name] = positionals(p, ["CHANNEL"]);
      return rollout.control(cx.client(p), name!, "advance", { reason: required(p, "reason", "TEXT"), force: bool(p, "force") });
    },
  },
  "rollout abort": control("abort", "end the active rollout: every licensee back on the channel's release"),
  "rollout list": {
    usage: "rollout list CHANNEL [--limit N] [--cursor C]",
    summary: "every rollout of a channel, newest first",
    options: page,
    async run(p, cx) {
      const [name] = positionals(p, ["CHANNEL"]);
      return rollout.list(cx.client(p), name!, { limit: limit(p), cursor: str(p, "cursor") });
    },
  },
  "webhooks add": {
    usage: "webhooks add URL --secret S|--secret-file FILE [--events a,b] [--format slack]",
    summary: "notify URL of events (default: all of them) as signed CloudEvents, or Slack {text} with --format slack (admin role); the secret from --secret, --secret-file (- for stdin) or CHARTROOM_WEBHOOK_SECRET",
    options: { secret: { type: "string" }, "secret-file": { type: "string" }, events: { type: "string", multiple: true }, format: { type: "string" } },
    async run(p, cx) {
      const [url] = positionals(p, ["URL"]);
      const secret = await webhooks.readSecret({ secret: str(p, "secret"), secretFile: str(p, "secret-file"), env: cx.io.env.CHARTROOM_WEBHOOK_SECRET }, () => readAll(cx.io.stdin));
      return webhooks.add(cx.client(p), { url: url!, secret, events: commaList(p, "events"), format: str(p, "format") });
    },
  },
  "webhooks list": {
    usage: "webhooks list",
    summary: "every webhook: its URL, format and events (never its secret)",
    async run(p, cx) {
      positionals(p, []);
      return webhooks.list(cx.client(p));
    },
  },
  "webhooks rm": {
    usage: "webhooks rm ID",
    summary: "remove a webhook; its pending deliveries are not sent",
    async run(p, cx) {
      const [id] = positionals(p, ["ID"]);
      return webhooks.remove(cx.client(p), id!);
    },
  },
  "webhooks deliveries": {
    usage: "webhooks deliveries ID [--limit N] [--cursor C]",
    summary: "a webhook's deliveries, newest first: event, state, attempts, last answer, next attempt",
    options: page,
    async run(p, cx) {
      const [id] = positionals(p, ["ID"]);
      return webhooks.deliveries(cx.client(p), id!, { limit: limit(p), cursor: str(p, "cursor") });
    },
  },
  migrate: {
    usage: "migrate",
    summary: "apply pending database migrations (DATABASE_URL)",
    async run(p, cx) {
      positionals(p, []);
      const r = await runMigrate(cx.io.env);
      return { json: r, text: migrateText(r) };
    },
  },
  apply: {
    usage: "apply DIR [--dry-run] [--local]",
    summary:
      "load declarative channels and releases from DIR: through the server (POST /api/v1/admin/apply, admin role) when CHARTROOM_TOKEN is set or --url is given, else (or with --local, for first boot and break-glass) into the database directly (DATABASE_URL); --dry-run: the whole plan, every conflict and the values diffs",
    options: { "dry-run": { type: "boolean" }, local: { type: "boolean" } },
    async run(p, cx) {
      const [dir] = positionals(p, ["DIR"]);
      const overHttp = !bool(p, "local") && (str(p, "url") !== undefined || !!cx.io.env.CHARTROOM_TOKEN?.trim());
      const r = overHttp
        ? await remote.apply(cx.client(p), dir!, bool(p, "dry-run"), str(p, "url") ?? (cx.io.env.CHARTROOM_URL?.trim() || DEFAULT_URL))
        : await runApply(cx.io.env, cx.io.stderr, dir!, bool(p, "dry-run"));
      // A dry run that found conflicts fails (exit 1), so CI can stop on it.
      return { json: r, text: applyText(r), note: applyModeNote(r), ...(r.dryRun && r.conflicts.length > 0 ? { exitCode: 1 } : {}) };
    },
  },
};

/** Command families: their next word names the command ("license values set"). */
const SUBCOMMANDED = new Set(["release", "license", "license values", "freeze", "rollout", "webhooks"]);

/** All of stdin, at most MAX_INPUT_BYTES (like a file). */
async function readAll(input: AsyncIterable<string | Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of input) {
    const b = typeof c === "string" ? Buffer.from(c, "utf8") : Buffer.from(c);
    size += b.length;
    if (size > MAX_INPUT_BYTES) throw new UsageError(`stdin: more than ${formatBytes(MAX_INPUT_BYTES)}, over the limit for an input`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8");
}

export function usage(): string {
  const lines = Object.values(COMMANDS).map((c) => `  chartroom ${c.usage}\n      ${c.summary}`);
  return `chartroom: the Chartroom command-line tool

usage:
  chartroom help
      this text
${lines.join("\n")}

options for every command:
  --json        print the raw JSON answer instead of a table
  --url URL     the server (default: CHARTROOM_URL, else ${DEFAULT_URL})
  -h, --help    this text for one command

environment:
  CHARTROOM_URL     the server the HTTP commands talk to (default ${DEFAULT_URL})
  CHARTROOM_TOKEN   admin bearer token: export CHARTROOM_TOKEN=$(chartroom token --sub you --role admin)
  CHARTROOM_WEBHOOK_SECRET  the secret of webhooks add without --secret or --secret-file
  DATABASE_URL, DATA_DIR, ADMIN_JWT_SECRET, LICENSE_SIGNING_KEY_FILE, …  as for the server (migrate, apply, token, license dev)

exit codes: 0 done, 1 refused by the server, 2 usage error, 3 server unreachable
`;
}

function commandUsage(name: string): string {
  return `usage: chartroom ${COMMANDS[name]!.usage}\n`;
}

/** Splits argv into the command name and its arguments ("release show", ["1.2.3"]). */
function resolveCommand(argv: string[]): { name: string | undefined; rest: string[]; wanted: string } {
  let wanted = argv[0] ?? "";
  let i = 1;
  while (SUBCOMMANDED.has(wanted)) {
    const sub = argv[i];
    if (sub === undefined || sub.startsWith("-")) break;
    wanted = `${wanted} ${sub}`;
    i++;
  }
  return { name: COMMANDS[wanted] ? wanted : undefined, rest: argv.slice(i), wanted };
}

/** The deepest command family `wanted` belongs to ("license values" for "license values frob"). */
function familyOf(wanted: string): string {
  const words = wanted.split(" ");
  for (let k = words.length; k >= 1; k--) {
    const f = words.slice(0, k).join(" ");
    if (SUBCOMMANDED.has(f)) return f;
  }
  return words[0]!;
}

export async function main(argv: string[], io: Partial<Io> = {}): Promise<number> {
  const env = io.env ?? process.env;
  // Every output path: no terminal control sequences from the server, files
  // or error messages (terminalSafe), and, whatever goes wrong, the admin
  // token is never echoed on stderr (redacted after the controls are gone,
  // so escape codes inside it cannot hide it).
  const secretToken = env.CHARTROOM_TOKEN?.trim();
  const redact = (s: string) => (secretToken && secretToken.length >= 8 ? s.split(secretToken).join("[redacted]") : s);
  const rawStdout = io.stdout ?? process.stdout;
  const rawStderr = io.stderr ?? process.stderr;
  const stdout: Output = { write: (s: string) => rawStdout.write(terminalSafe(s)) };
  const stderr: Output = { write: (s: string) => rawStderr.write(redact(terminalSafe(s))) };
  const full: Io = { env, stdout, stderr, stdin: io.stdin ?? process.stdin };

  const first = argv[0];
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    stdout.write(usage());
    return 0;
  }

  const { name, rest, wanted } = resolveCommand(argv);
  if (!name) {
    const family = familyOf(wanted);
    const sub = Object.keys(COMMANDS).filter((k) => k.startsWith(`${family} `));
    const hint = sub.length > 0 ? `; try ${sub.map((s) => `"chartroom ${s}"`).join(" or ")}` : "; see chartroom help";
    stderr.write(`error: unknown command ${JSON.stringify(wanted)}${hint}\n`);
    return 2;
  }
  const cmd = COMMANDS[name]!;

  try {
    const p = parse(rest, cmd.options);
    const json = bool(p, "json");
    if (bool(p, "help")) {
      stdout.write(`${commandUsage(name)}${cmd.summary}\n`);
      return 0;
    }
    const cx: Cx = {
      io: full,
      client: (pp) => createClient({ baseUrl: str(pp, "url") ?? (env.CHARTROOM_URL?.trim() || DEFAULT_URL), token: secretToken || undefined }),
    };
    const result = await cmd.run(p, cx);
    // Colours only on a terminal, and never with NO_COLOR (https://no-color.org) or TERM=dumb.
    const colour = rawStdout.isTTY === true && !env.NO_COLOR && env.TERM !== "dumb";
    if (!json && colour && result.tty !== undefined) rawStdout.write(result.tty);
    else stdout.write(json ? jsonText(result.json) : result.text);
    if (result.note && !json) stderr.write(result.note);
    return result.exitCode ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      stderr.write(`error: ${err.message}\n${commandUsage(name)}`);
      return 2;
    }
    if (err instanceof UnreachableError || err instanceof DatabaseUnreachableError) {
      stderr.write(`error: ${err.message}\n`);
      return 3;
    }
    if (err instanceof ApiError) {
      stderr.write(`error: ${err.code}: ${err.message}\n`);
      if (err.field) stderr.write(`field: ${err.field}\n`);
      if (err.status === 401) {
        stderr.write(secretToken ? "hint: CHARTROOM_TOKEN was refused; mint a fresh one with chartroom token\n" : "hint: set CHARTROOM_TOKEN, e.g. export CHARTROOM_TOKEN=$(chartroom token --sub you --role admin)\n");
      }
      return 1;
    }
    if (err instanceof LocalError) {
      stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    // Errors from the services (apply: DECLARATION_CONFLICT, VALIDATION_FAILED, …).
    const e = err as { code?: unknown; message?: unknown; field?: unknown };
    const code = typeof e.code === "string" && /^[A-Z][A-Z0-9_]+$/.test(e.code) ? `${e.code}: ` : "";
    stderr.write(`error: ${code}${String(e.message ?? err)}\n`);
    if (typeof e.field === "string") stderr.write(`field: ${e.field}\n`);
    return 1;
  }
}
