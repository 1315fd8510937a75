// `chartroom`: the command-line tool (bin/chartroom.js runs main()).
//
// Exit codes: 0 done; 1 the server (or the database) refused, with
// "error: CODE: message" on stderr; 2 a usage or configuration error;
// 3 the server (or the database) cannot be reached.
//
// main() takes its environment and output streams as arguments, so tests
// drive it without spawning a process.
import { ApiError, DEFAULT_URL, UnreachableError, createClient, parseBaseUrl, type Client } from "./client.js";
import { GLOBAL_OPTIONS, UsageError, bool, commaList, dateOrDuration, hours, limit, list, parse, positionals, required, str, type OptionSpec, type Parsed } from "./args.js";
import * as freeze from "./freeze.js";
import * as rollout from "./rollout.js";
import * as licenses from "./licenses.js";
import * as webhooks from "./webhooks.js";
import * as bundle from "./bundle.js";
import { DatabaseUnreachableError, LocalError, applyModeNote, applyText, migrateText, mintDevLicense, mintToken, runApply, runMigrate } from "./local.js";
import * as remote from "./remote.js";
import { MAX_INPUT_BYTES } from "./remote.js";
import { formatBytes } from "../services/declaration-files.js";
import { jsonText, terminalSafe } from "./format.js";
import type { Result } from "./remote.js";
import { readFileSync } from "node:fs";
import * as auditLog from "./audit.js";
import { bashCompletion, zshCompletion } from "./completion.js";
import { looseModeWarning, removeToken, saveToken, storedToken } from "./credentials.js";
import { EXAMPLES, FAMILIES } from "./examples.js";
import { hintFor, inCliWords } from "./hints.js";
import { LintFailed, releaseInit, releaseLint } from "./release-file.js";
import { didYouMean } from "./suggest.js";

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
  /** Rewrites the progress line on a terminal ("" ends it); undefined when stderr is not one. */
  progress: ((line: string) => void) | undefined;
  client(p: Parsed): Client;
  /** Tokens never to print (CHARTROOM_TOKEN, a stored one, one being stored): redacted from stderr. */
  secrets: string[];
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
    usage: "token --sub NAME --role ROLE [--role ROLE2] [--ttl 1h] [--data-dir DIR]",
    summary: "mint an admin token from ADMIN_JWT_SECRET, or the development secret of the server whose data directory is --data-dir, DATA_DIR or ./data (never a new one); prints the token only",
    options: { sub: { type: "string" }, role: { type: "string", multiple: true }, ttl: { type: "string" }, "data-dir": { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      const t = mintToken(cx.io.env, cx.io.stderr, { sub: required(p, "sub", "NAME"), roles: list(p, "role"), ttl: str(p, "ttl") ?? "1h", dataDir: str(p, "data-dir") });
      return { json: t, text: `${t.token}\n` };
    },
  },
  console: {
    usage: "console [--sub NAME --role ROLE [--ttl 1h] [--data-dir DIR]]",
    summary: "print a one-time sign-in link to the web console (/console): the token minted like chartroom token, or without --sub CHARTROOM_TOKEN or the token of chartroom login, in the link's fragment, which the browser never sends",
    options: { sub: { type: "string" }, role: { type: "string", multiple: true }, ttl: { type: "string" }, "data-dir": { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      const sub = str(p, "sub");
      const base = str(p, "url") ?? (cx.io.env.CHARTROOM_URL?.trim() || DEFAULT_URL);
      let token = cx.io.env.CHARTROOM_TOKEN?.trim() || storedToken(cx.io.env, serverKey(base));
      if (sub !== undefined) token = mintToken(cx.io.env, cx.io.stderr, { sub, roles: list(p, "role"), ttl: str(p, "ttl") ?? "1h", dataDir: str(p, "data-dir") }).token;
      if (!token) throw new UsageError("--sub NAME and --role ROLE are required (or set CHARTROOM_TOKEN, or chartroom login)");
      const link = consoleLink(base, token);
      return { json: { link }, text: `${link}\n`, note: "Open it in a browser; the token stays in that tab until you sign out or it expires.\n" };
    },
  },
  login: {
    usage: "login [--url URL] [--token TOKEN | < token]",
    summary: "store an admin token for a server (CHARTROOM_URL or --url), checked against it first, in ~/.config/chartroom/credentials.json (mode 0600; $XDG_CONFIG_HOME): the commands then need no CHARTROOM_TOKEN; the token from --token or stdin",
    options: { token: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      const base = serverKey(str(p, "url") ?? (cx.io.env.CHARTROOM_URL?.trim() || DEFAULT_URL));
      const onArgv = str(p, "token");
      // A token on the command line is in ps output and the shell's history: said, not refused (scripts use it).
      if (onArgv !== undefined) cx.io.stderr.write("warning: a token given with --token is visible to other users (ps) and kept in your shell history; pipe it in instead: … | chartroom login\n");
      const given = onArgv ?? (await readToken(cx.io.stdin));
      const token = given.trim();
      if (token === "") throw new UsageError("no token: pass --token TOKEN or pipe one in, e.g. chartroom token --sub you --role admin | chartroom login");
      if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) throw new UsageError("the token is not a JWT (three base64url parts joined by dots)");
      cx.secrets.push(token);
      // A token the server refuses is not stored (ApiError: exit 1 with its code).
      await createClient({ baseUrl: base, token }).get("/channels");
      const claims = jwtClaims(token);
      const file = saveToken(cx.io.env, base, { token, savedAt: new Date().toISOString(), sub: claims.sub });
      const expires = typeof claims.exp === "number" ? `, expires ${new Date(claims.exp * 1000).toISOString().replace(/\.\d+Z$/, "Z")}` : "";
      const as = claims.sub ? ` as ${claims.sub}${claims.roles ? ` (${claims.roles.join(", ")})` : ""}` : "";
      return { json: { url: base, file, sub: claims.sub ?? null, roles: claims.roles ?? null }, text: `logged in to ${base}${as}${expires}; the token is in ${file} (mode 0600)\n` };
    },
  },
  logout: {
    usage: "logout [--url URL] [--all]",
    summary: "forget the stored token of a server (CHARTROOM_URL or --url), or of every server with --all",
    options: { all: { type: "boolean" } },
    async run(p, cx) {
      positionals(p, []);
      const base = serverKey(str(p, "url") ?? (cx.io.env.CHARTROOM_URL?.trim() || DEFAULT_URL));
      const r = removeToken(cx.io.env, base, bool(p, "all"));
      const text = r.removed.length === 0 ? `no token stored for ${bool(p, "all") ? "any server" : base} in ${r.file}\n` : r.removed.map((u) => `removed the token for ${u} from ${r.file}\n`).join("");
      return { json: r, text };
    },
  },
  completion: {
    usage: "completion bash|zsh",
    summary: "print a shell completion script for commands, their options and files",
    async run(p) {
      const [shell] = positionals(p, ["SHELL"]);
      const commands = Object.entries(COMMANDS).map(([name, c]) => ({ name, summary: c.summary, options: Object.keys(c.options ?? {}) }));
      commands.push({ name: "help", summary: "help for chartroom or one command", options: [] });
      const global = Object.keys(GLOBAL_OPTIONS);
      if (shell === "bash") return { json: { shell, script: bashCompletion(commands, global) }, text: bashCompletion(commands, global) };
      if (shell === "zsh") return { json: { shell, script: zshCompletion(commands, global) }, text: zshCompletion(commands, global) };
      throw new UsageError(`no completion for ${JSON.stringify(shell)}: bash or zsh`);
    },
  },
  version: {
    usage: "version",
    summary: "the version of this chartroom (also --version)",
    async run(p) {
      positionals(p, []);
      const v = version();
      return { json: { version: v, node: process.version }, text: `chartroom ${v}\n` };
    },
  },
  "license dev": {
    usage: "license dev --sub NAME [--channel stable] [--ttl 30d] [--data-dir DIR]",
    summary: "mint a development license with the server's signing key (LICENSE_SIGNING_KEY_FILE, or the development key under --data-dir, DATA_DIR or ./data; never a new one); prints the token only",
    options: { sub: { type: "string" }, channel: { type: "string" }, ttl: { type: "string" }, "data-dir": { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      const l = mintDevLicense(cx.io.env, cx.io.stderr, { sub: required(p, "sub", "NAME"), channel: str(p, "channel"), ttl: str(p, "ttl") ?? "30d", dataDir: str(p, "data-dir") });
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
    usage: "license revoke JTI --reason TEXT [--force]",
    summary: "revoke a license (issued here or elsewhere) by its jti; a jti the server has neither issued nor seen polling is refused without --force",
    options: { reason: { type: "string" }, force: { type: "boolean" } },
    async run(p, cx) {
      const [jti] = positionals(p, ["JTI"]);
      const reason = required(p, "reason", "TEXT");
      const c = cx.client(p);
      if (!bool(p, "force")) await licenses.checkKnownJti(c, jti!);
      return licenses.licenseRevoke(c, jti!, reason);
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
    usage: "license values set SUB FILE.yaml|- [--force]",
    summary: "set a licensee's values override from a YAML or JSON file (- for stdin), merged last into that licensee's spec only; a licensee the server does not know (no license, no poll, no override) is refused without --force",
    options: { force: { type: "boolean" } },
    async run(p, cx) {
      const [sub, file] = positionals(p, ["SUB", "FILE"]);
      const values = await licenses.readValues(file!, () => readAll(cx.io.stdin));
      const c = cx.client(p);
      if (!bool(p, "force")) await licenses.checkKnownSub(c, sub!);
      return licenses.valuesSet(c, sub!, values);
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
    usage: "fleet [--channel CHANNEL] [--not-seen-for 24h] [--stuck | --on-path]",
    summary: "the fleet: every licensee that polls (channel, release served, last seen, license state, upgrade path), then releases per channel; --stuck: only licensees no release admits (no-upgrade-path), --on-path: only those on a stepping stone",
    options: { channel: { type: "string" }, "not-seen-for": { type: "string" }, stuck: { type: "boolean" }, "on-path": { type: "boolean" } },
    async run(p, cx) {
      positionals(p, []);
      if (bool(p, "stuck") && bool(p, "on-path")) throw new UsageError("--stuck and --on-path exclude each other");
      const path = bool(p, "stuck") ? "no-upgrade-path" : bool(p, "on-path") ? "stepping-stone" : undefined;
      return licenses.fleet(cx.client(p), { channel: str(p, "channel"), notSeenForHours: hours(p, "not-seen-for"), path });
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
  "release required": {
    usage: "release required VERSION --reason TEXT [--off]",
    summary: "mark a release required: installations below it are served it first, on their way to a later release (upgrade paths); --off unmarks it",
    options: { reason: { type: "string" }, off: { type: "boolean" } },
    async run(p, cx) {
      const [version] = positionals(p, ["VERSION"]);
      return remote.releaseRequired(cx.client(p), version!, !bool(p, "off"), required(p, "reason", "TEXT"));
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
  "release init": {
    usage: "release init [FILE|-] [--force]",
    summary: "write a commented release file to start from (default release.yaml; - for stdout); an existing file is kept without --force",
    options: { force: { type: "boolean" } },
    async run(p) {
      if (p.positionals.length > 1) positionals(p, ["FILE"]);
      return releaseInit(p.positionals[0] ?? "release.yaml", bool(p, "force"));
    },
  },
  "release lint": {
    usage: "release lint FILE.yaml",
    summary: "check a release file offline with the server's own rules (as release create would), every problem at once; exit 1 if any",
    async run(p) {
      const [file] = positionals(p, ["FILE"]);
      return releaseLint(file!);
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
    usage: "audit [--limit N] [--cursor C] [--action A] [--target [TYPE/]NAME] [--target-type channel|release|…]",
    summary: "the audit log of admin changes, newest first: who, what, before → after, why (--target as the TARGET column prints it, e.g. release/0.61.0)",
    options: { ...page, action: { type: "string" }, target: { type: "string" }, "target-type": { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      return auditLog.audit(cx.client(p), { limit: limit(p), cursor: str(p, "cursor"), action: str(p, "action"), target: str(p, "target"), targetType: str(p, "target-type") });
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
  "bundle export": {
    usage: "bundle export --sub SUB --channel CHANNEL [--out FILE]",
    summary: "download an air-gapped bundle for a licensee (admin role): what its poll gets now, the chart, images.txt and the W&B operator's airgapped resources, signed; written to FILE (default: the server's file name) only once complete",
    options: { sub: { type: "string" }, channel: { type: "string" }, out: { type: "string" } },
    async run(p, cx) {
      positionals(p, []);
      return bundle.exportBundle(cx.client(p), { sub: required(p, "sub", "SUB"), channel: required(p, "channel", "CHANNEL"), out: str(p, "out"), progress: cx.progress });
    },
  },
  "bundle verify": {
    usage: "bundle verify FILE --jwks FILE|URL",
    summary: "check a bundle offline: every file's sha256 and size against manifest.json, manifest.jws and spec.jws against the spec keys of the JWKS (a file, or the server's /.well-known/jwks.json URL); any mismatch, missing or extra file is exit 1 naming it",
    options: { jwks: { type: "string" } },
    async run(p, cx) {
      void cx;
      const [file] = positionals(p, ["FILE"]);
      return bundle.verifyBundleFile(file!, required(p, "jwks", "FILE|URL"));
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
const SUBCOMMANDED = new Set(["release", "license", "license values", "freeze", "rollout", "webhooks", "bundle"]);

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

/** The key of a server in the token store: its base URL as the client uses it (no trailing slash). */
function serverKey(url: string): string {
  return parseBaseUrl(url).toString().replace(/\/+$/, "");
}

/** The version in package.json (two levels above src/cli and dist/cli). */
function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** A JWT's payload, unverified: for saying whom a stored token names. */
function jwtClaims(token: string): { sub?: string; roles?: string[]; exp?: number } {
  try {
    const c = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as Record<string, unknown>;
    return {
      ...(typeof c.sub === "string" ? { sub: c.sub } : {}),
      ...(Array.isArray(c.roles) ? { roles: c.roles.map(String) } : {}),
      ...(typeof c.exp === "number" ? { exp: c.exp } : {}),
    };
  } catch {
    return {};
  }
}

/** A token from stdin (login without --token); a terminal is not waited on. */
async function readToken(stdin: AsyncIterable<string | Uint8Array>): Promise<string> {
  if ((stdin as { isTTY?: boolean }).isTTY) throw new UsageError("no token: pass --token TOKEN or pipe one in, e.g. chartroom token --sub you --role admin | chartroom login");
  return readAll(stdin);
}

/**
 * Colour on `out`: never with NO_COLOR (https://no-color.org, any value);
 * else as FORCE_COLOR says when it is set (0 or false: none, anything else:
 * colour, even into a pipe); else on a terminal that is not TERM=dumb.
 */
export function colourEnabled(out: Output, env: Record<string, string | undefined>): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== "") return force !== "0" && force !== "false";
  return out.isTTY === true && env.TERM !== "dumb";
}

type Style = "bold" | "red" | "yellow" | "cyan" | "dim";
const SGR: Record<Style, string> = { bold: "1", red: "31", yellow: "33", cyan: "36", dim: "2" };
type Paint = (style: Style, text: string) => string;
const painter = (on: boolean): Paint => (style, text) => (on ? `\u001b[${SGR[style]}m${text}\u001b[0m` : text);
const noPaint: Paint = (_style, text) => text;

const GLOBAL_HELP = `options for every command:
  --json        print the raw JSON answer instead of a table
  --url URL     the server (default: CHARTROOM_URL, else ${DEFAULT_URL})
  -h, --help    help for one command, with examples
`;

export function usage(paint: Paint = noPaint): string {
  const lines = Object.values(COMMANDS).map((c) => `  ${paint("bold", `chartroom ${c.usage}`)}\n      ${c.summary}`);
  return `chartroom: the Chartroom command-line tool

${paint("bold", "usage:")}
  ${paint("bold", "chartroom help [COMMAND]")}
      this text, or one command's (or family's) help with examples: chartroom help promote, chartroom help release
  ${paint("bold", "chartroom --version")}
      the version of this chartroom
${lines.join("\n")}

${GLOBAL_HELP}
${paint("bold", "environment:")}
  CHARTROOM_URL     the server the HTTP commands talk to (default ${DEFAULT_URL})
  CHARTROOM_TOKEN   admin bearer token: export CHARTROOM_TOKEN=$(chartroom token --sub you --role admin);
                    unset: the token chartroom login stored for the server ($XDG_CONFIG_HOME/chartroom/credentials.json)
  CHARTROOM_WEBHOOK_SECRET  the secret of webhooks add without --secret or --secret-file
  NO_COLOR, FORCE_COLOR     no colours; colours even into a pipe (FORCE_COLOR=0: none)
  DATABASE_URL, DATA_DIR, ADMIN_JWT_SECRET, LICENSE_SIGNING_KEY_FILE, …  as for the server (migrate, apply, token, license dev)

exit codes: 0 done, 1 refused by the server, 2 usage error, 3 server unreachable
`;
}

function commandUsage(name: string): string {
  return `usage: chartroom ${COMMANDS[name]!.usage}\n`;
}

/** One command's help: usage, what it does, examples, the options every command takes. */
function commandHelp(name: string, paint: Paint): string {
  const examples = EXAMPLES[name];
  const ex = examples?.length ? `\n${paint("bold", "examples:")}\n${examples.map((e) => `  ${e.replace(/( +# .*)$/, (c) => paint("dim", c))}`).join("\n")}\n` : "";
  return `${paint("bold", "usage:")} chartroom ${COMMANDS[name]!.usage}\n\n${COMMANDS[name]!.summary}\n${ex}\n${GLOBAL_HELP}`;
}

/** A family's help: what it is for and its commands. */
function familyHelp(family: string, paint: Paint): string {
  const members = Object.entries(COMMANDS).filter(([k]) => k.startsWith(`${family} `));
  return `chartroom ${family}: ${FAMILIES[family] ?? ""}

${paint("bold", "commands:")}
${members.map(([, c]) => `  ${paint("bold", `chartroom ${c.usage}`)}\n      ${c.summary}`).join("\n")}

examples and details: chartroom help ${family} COMMAND (or chartroom ${family} COMMAND --help)
`;
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

/** Why `wanted` is not a command, with the nearest commands ("did you mean"). */
function unknownCommand(wanted: string): string {
  const family = familyOf(wanted);
  const sub = Object.keys(COMMANDS).filter((k) => k.startsWith(`${family} `));
  if (sub.length > 0) {
    // The word after the family against the words of its commands ("crate" against "create").
    const word = wanted.slice(family.length + 1).split(" ")[0] ?? "";
    const next = [...new Set(sub.map((s) => s.slice(family.length + 1).split(" ")[0]!))];
    const near = didYouMean(word, next, (s) => `"chartroom ${family} ${s}"`);
    const all = sub.map((s) => `"chartroom ${s}"`).join(" or ");
    return `unknown command ${JSON.stringify(wanted)}${near ? `${near} (the ${family} commands: ${all})` : `; try ${all}`}`;
  }
  const words = [...new Set(["help", ...Object.keys(COMMANDS).map((k) => k.split(" ")[0]!)])];
  const near = didYouMean(wanted.split(" ")[0]!, words, (s) => `"chartroom ${s}"`);
  return `unknown command ${JSON.stringify(wanted)}${near ? `${near} (chartroom help lists every command)` : "; see chartroom help"}`;
}

export async function main(argv: string[], io: Partial<Io> = {}): Promise<number> {
  const env = io.env ?? process.env;
  // Every output path: no terminal control sequences from the server, files
  // or error messages (terminalSafe), and, whatever goes wrong, no admin
  // token is ever echoed on stderr (redacted after the controls are gone,
  // so escape codes inside it cannot hide it): CHARTROOM_TOKEN, the token
  // chartroom login stored, the one it is storing.
  const secrets: string[] = [];
  const envToken = env.CHARTROOM_TOKEN?.trim();
  if (envToken) secrets.push(envToken);
  const redact = (s: string) => secrets.reduce((acc, t) => (t.length >= 8 ? acc.split(t).join("[redacted]") : acc), s);
  const rawStdout = io.stdout ?? process.stdout;
  const rawStderr = io.stderr ?? process.stderr;
  const stdout: Output = { write: (s: string) => rawStdout.write(terminalSafe(s)) };
  const stderr: Output = { write: (s: string) => rawStderr.write(redact(terminalSafe(s))) };
  // A progress line (bundle export) on a terminal only: rewritten in place (carriage return, erase to the end of the line).
  const progress = rawStderr.isTTY === true ? (line: string) => void rawStderr.write(line === "" ? "\n" : `\r${redact(terminalSafe(line))}\x1b[K`) : undefined;
  const full: Io = { env, stdout, stderr, stdin: io.stdin ?? process.stdin };
  const outPaint = painter(colourEnabled(rawStdout, env));
  const errPaint = painter(colourEnabled(rawStderr, env));
  /** "error: …" (the prefix in red on a terminal), the text made safe and redacted. */
  const errorLine = (text: string) => void rawStderr.write(`${errPaint("red", "error:")} ${redact(terminalSafe(text))}\n`);
  const hintLine = (text: string) => void rawStderr.write(`${errPaint("yellow", "hint:")} ${redact(terminalSafe(text))}\n`);

  const first = argv[0];
  if (first === "--version" || first === "-V") {
    stdout.write(`chartroom ${version()}\n`);
    return 0;
  }
  if (first === undefined || first === "help" || first === "--help" || first === "-h") {
    const topic = first === "help" ? argv.slice(1).filter((a) => !a.startsWith("-")) : [];
    if (topic.length === 0) {
      rawStdout.write(usage(outPaint));
      return 0;
    }
    const { name, wanted } = resolveCommand(topic);
    if (name) rawStdout.write(commandHelp(name, outPaint));
    else if (SUBCOMMANDED.has(wanted)) rawStdout.write(familyHelp(wanted, outPaint));
    else {
      errorLine(unknownCommand(wanted));
      return 2;
    }
    return 0;
  }

  const { name, rest, wanted } = resolveCommand(argv);
  if (!name) {
    // `chartroom release`, `chartroom license --help`: the family's commands.
    if (SUBCOMMANDED.has(wanted) && rest.every((a) => a === "--help" || a === "-h")) {
      rawStdout.write(familyHelp(wanted, outPaint));
      return 0;
    }
    errorLine(unknownCommand(wanted));
    return 2;
  }
  const cmd = COMMANDS[name]!;

  let tokenFrom: "env" | "login" | undefined = envToken ? "env" : undefined;
  let serverUrl = "";
  try {
    const p = parse(rest, cmd.options);
    const json = bool(p, "json");
    if (bool(p, "help")) {
      rawStdout.write(commandHelp(name, outPaint));
      return 0;
    }
    const cx: Cx = {
      io: full,
      progress: json ? undefined : progress,
      secrets,
      client: (pp) => {
        const baseUrl = str(pp, "url") ?? (env.CHARTROOM_URL?.trim() || DEFAULT_URL);
        serverUrl = serverKey(baseUrl);
        let token = envToken || undefined;
        if (!token) {
          token = storedToken(env, serverUrl);
          if (token) {
            secrets.push(token);
            tokenFrom = "login";
            const loose = looseModeWarning(env);
            if (loose) stderr.write(loose);
          }
        }
        return createClient({ baseUrl, token });
      },
    };
    let result: Result;
    try {
      result = await cmd.run(p, cx);
    } catch (err) {
      // release lint: the problems are the answer (stdout, or --json), and exit 1.
      if (!(err instanceof LintFailed)) throw err;
      stdout.write(json ? jsonText(err.result.json) : err.result.text);
      return 1;
    }
    if (!json && colourEnabled(rawStdout, env) && result.tty !== undefined) rawStdout.write(result.tty);
    else stdout.write(json ? jsonText(result.json) : result.text);
    if (result.note && !json) stderr.write(result.note);
    return result.exitCode ?? 0;
  } catch (err) {
    if (err instanceof UsageError) {
      errorLine(err.message);
      if (err.showUsage) stderr.write(commandUsage(name));
      return 2;
    }
    if (err instanceof UnreachableError || err instanceof DatabaseUnreachableError) {
      errorLine(err.message);
      return 3;
    }
    if (err instanceof ApiError) {
      errorLine(`${err.code}: ${inCliWords(err.message)}`);
      if (err.field) stderr.write(`field: ${err.field}\n`);
      for (const e of err.errors.slice(1)) stderr.write(`field: ${e.field}: ${e.reason}\n`);
      if (err.status === 401) {
        const url = serverUrl || "the server";
        if (name === "login") hintLine(`${url} refused this token, so it was not stored: mint one with that server's keys (chartroom token --data-dir ITS_DATA_DIR …, or its ADMIN_JWT_SECRET)`);
        else if (tokenFrom === "env") hintLine(`CHARTROOM_TOKEN was refused by ${url}: it has expired, or other keys than this server's signed it (chartroom token notes which keys it used); mint one with the server's keys or use chartroom login`);
        else if (tokenFrom === "login") hintLine(`the token chartroom login stored for ${url} was refused (expired?): chartroom login again`);
        else hintLine(`set CHARTROOM_TOKEN, e.g. export CHARTROOM_TOKEN=$(chartroom token --sub you --role admin), or store one: chartroom token --sub you --role admin | chartroom login`);
      }
      const hint = hintFor(err.code);
      if (hint) hintLine(hint);
      return 1;
    }
    if (err instanceof LocalError) {
      errorLine(err.message);
      return 1;
    }
    // Errors from the services (apply: DECLARATION_CONFLICT, VALIDATION_FAILED, …).
    const e = err as { code?: unknown; message?: unknown; field?: unknown };
    const code = typeof e.code === "string" && /^[A-Z][A-Z0-9_]+$/.test(e.code) ? `${e.code}: ` : "";
    errorLine(`${code}${String(e.message ?? err)}`);
    if (typeof e.field === "string") stderr.write(`field: ${e.field}\n`);
    return 1;
  }
}
