// Commands that work without the HTTP server: they read the same
// environment as the server (loadConfig) and use its keys or its database.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { userInfo } from "node:os";
import { dirname, join, resolve as resolvePath } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import pino from "pino";
import { mintAdminToken, parseTtl } from "../admin/admin-token.js";
import { ROLES, type Role } from "../admin/roles.js";
import { ConfigError, loadConfig, type Config } from "../config.js";
import { createContext } from "../context.js";
import { migrate } from "../db/migrate.js";
import { CHANNEL_NAME } from "../domain/schemas.js";
import { DatabaseUnavailableError } from "../errors.js";
import { signLicense } from "../licensing/issue-license.js";
import { SpecKeyring, specSigner } from "../licensing/spec-key.js";

import { findDevKeys, loadSigningKey } from "../licensing/license-keys.js";
import { toCatalogueError } from "../repositories/database-errors.js";
import { UsageError } from "./args.js";
import { table } from "./format.js";
import { diffLines, plain } from "./diff-text.js";
import type { ApplyResult } from "../services/apply-channels.js";

export interface Out {
  write(chunk: string): unknown;
}

/** A local failure that is not the user's command line (exit 1). */
export class LocalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LocalError";
  }
}

/** The database could not be reached (exit 3, like an unreachable server). */
export class DatabaseUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DatabaseUnreachableError";
  }
}

export function configFrom(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // loadConfig quotes a bad DATABASE_URL whole; keep its password out.
      let text = err.problems.join("; ");
      const url = env.DATABASE_URL;
      if (url) text = text.split(url).join(displayDbUrl(url));
      throw new UsageError(`configuration: ${text}`);
    }
    throw err;
  }
}

/** A DATABASE_URL fit to print: the password replaced. */
export function displayDbUrl(url: string): string {
  if (url.startsWith("file:")) return url;
  try {
    // new URL() would keep a password in a URL of any scheme: mask it.
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(DATABASE_URL)";
  }
}

function ttl(text: string): number {
  try {
    return parseTtl(text);
  } catch (err) {
    throw new UsageError(`--${(err as Error).message}`);
  }
}

/** The directory of this chartroom's installation (dist/cli or src/cli, two levels up). */
const INSTALL_ROOT = resolvePath(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * The development keys of the server this CLI works for, found, never made:
 * a key the CLI made up would sign tokens that no server accepts. They are
 * looked for under --data-dir, else DATA_DIR (as the server reads it), else
 * ./data, else, when neither was given, under the data directory of this
 * installation (where `npm start` in its checkout keeps them: the case of
 * `npm link` and a command run elsewhere). Which keys were used is said on
 * stderr; none found is a refusal that says where it looked.
 */
function devKeys(config: Config, env: Record<string, string | undefined>, stderr: Out, dataDirFlag: string | undefined) {
  const given = dataDirFlag !== undefined ? "--data-dir" : env.DATA_DIR?.trim() ? "DATA_DIR" : undefined;
  const dataDir = resolvePath(dataDirFlag ?? config.DATA_DIR);
  const candidates: [string, string][] = [[dataDir, given ?? "./data, the default DATA_DIR"]];
  const installData = join(INSTALL_ROOT, "data");
  if (given === undefined && installData !== dataDir) candidates.push([installData, `the data directory of this chartroom installation`]);
  for (const [dir, how] of candidates) {
    let found;
    try {
      found = findDevKeys(dir);
    } catch (err) {
      throw new LocalError((err as Error).message);
    }
    if (!found) continue;
    stderr.write(`note: using the development keys in ${found.dir} (${how}); only a server started with DATA_DIR=${dir} and no keys configured accepts what they sign\n`);
    return { signingKeyFile: found.signingKeyFile, adminSecret: found.adminSecret };
  }
  throw new LocalError(
    `no development keys in ${join(dataDir, "keys")}${candidates.length > 1 ? ` or ${join(installData, "keys")}` : ""}, and chartroom never makes its own (a server would refuse what they sign). ` +
      `Point it at the server's data directory: --data-dir DIR or DATA_DIR=DIR (the server makes its development keys there on its first start), ` +
      `or set the server's ADMIN_JWT_SECRET / LICENSE_SIGNING_KEY_FILE here too`,
  );
}

export interface MintedToken {
  token: string;
  sub: string;
  roles: Role[];
  expiresAt: string;
}

export function mintToken(env: Record<string, string | undefined>, stderr: Out, req: { sub: string; roles: string[]; ttl: string; dataDir?: string | undefined }): MintedToken {
  if (req.sub.trim() === "" || req.sub.length > 256) throw new UsageError("--sub must be 1 to 256 characters");
  if (req.roles.length === 0) throw new UsageError(`--role is required (one of ${ROLES.join(", ")})`);
  for (const r of req.roles) {
    if (!(ROLES as readonly string[]).includes(r)) throw new UsageError(`unknown role ${JSON.stringify(r)}; roles are ${ROLES.join(", ")}`);
  }
  const ttlSec = ttl(req.ttl);
  const config = configFrom(env);
  let secret = config.ADMIN_JWT_SECRET;
  if (!secret) {
    if (config.ADMIN_JWKS_FILE) {
      throw new LocalError("admin tokens come from your identity provider (ADMIN_JWKS_FILE is set); chartroom token mints only HS256 tokens from ADMIN_JWT_SECRET");
    }
    if (!config.devKeys) throw new LocalError("ADMIN_JWT_SECRET is not set (development keys are off because license keys are configured)");
    secret = devKeys(config, env, stderr, req.dataDir).adminSecret;
  }
  const roles = [...new Set(req.roles)] as Role[];
  const token = mintAdminToken(secret, { sub: req.sub, roles, ttlSec, audience: config.ADMIN_AUDIENCE, issuer: config.ADMIN_ISSUER });
  return { token, sub: req.sub, roles, expiresAt: new Date(Date.now() + ttlSec * 1000).toISOString() };
}

export interface MintedLicense {
  token: string;
  sub: string;
  channel: string;
  jti: string;
  kid: string;
  expiresAt: string;
}

export function mintDevLicense(
  env: Record<string, string | undefined>,
  stderr: Out,
  req: { sub: string; channel?: string | undefined; ttl: string; dataDir?: string | undefined },
): MintedLicense {
  if (req.sub.trim() === "" || req.sub.length > 256) throw new UsageError("--sub must be 1 to 256 characters");
  const ttlSec = ttl(req.ttl);
  const config = configFrom(env);
  const channel = req.channel ?? config.LICENSE_DEFAULT_CHANNEL;
  if (!CHANNEL_NAME.test(channel)) throw new UsageError(`--channel ${JSON.stringify(channel)} is not a channel name (^[a-z][a-z0-9-]{0,62}$)`);
  let signingKey;
  try {
    const file = config.devKeys ? devKeys(config, env, stderr, req.dataDir).signingKeyFile : config.LICENSE_SIGNING_KEY_FILE;
    signingKey = file ? loadSigningKey(file) : undefined;
  } catch (err) {
    if (err instanceof LocalError) throw err;
    throw new LocalError((err as Error).message);
  }
  if (!signingKey) throw new LocalError("this server has no license signing key: set LICENSE_SIGNING_KEY_FILE (or configure no keys at all for development keys)");
  const now = Math.floor(Date.now() / 1000);
  const jti = randomUUID();
  const exp = now + ttlSec;
  const token = signLicense(signingKey, {
    sub: req.sub,
    channel,
    jti,
    exp,
    iat: now,
    ...(config.LICENSE_ISSUER ? { iss: config.LICENSE_ISSUER } : {}),
    ...(config.LICENSE_AUDIENCE ? { aud: config.LICENSE_AUDIENCE } : {}),
  });
  return { token, sub: req.sub, channel, jti, kid: signingKey.kid, expiresAt: new Date(exp * 1000).toISOString() };
}

/**
 * Runs `fn`; a database that cannot be reached becomes DatabaseUnreachableError.
 * The migrator's driver errors and the store's DatabaseUnavailableError are
 * told apart by the repositories' one classification.
 */
async function withDb<T>(config: Config, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = toCatalogueError(err);
    if (e instanceof DatabaseUnavailableError) {
      const cause = (e.cause ?? err) as Error;
      throw new DatabaseUnreachableError(`cannot reach the database at ${displayDbUrl(config.DATABASE_URL)}: ${cause.message}`);
    }
    throw err;
  }
}

export async function runMigrate(env: Record<string, string | undefined>) {
  const config = configFrom(env);
  const result = await withDb(config, () => migrate(config.DATABASE_URL));
  return { database: displayDbUrl(config.DATABASE_URL), ...result };
}

export function migrateText(r: Awaited<ReturnType<typeof runMigrate>>): string {
  if (r.applied.length === 0) return `no pending migrations (${r.alreadyApplied} already applied to ${r.database})\n`;
  return r.applied.map((m) => `applied ${m}\n`).join("") + `${r.applied.length} migration(s) applied to ${r.database}\n`;
}

function osUser(env: Record<string, string | undefined>): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.USERNAME ?? "unknown";
  }
}

export async function runApply(env: Record<string, string | undefined>, stderr: Out, dir: string, dryRun: boolean): Promise<AppliedPlan> {
  const full = configFrom(env);
  // apply needs the database only: leave the keys out, so a missing or
  // broken key file is not its problem and no development keys are made;
  // and the rate-limit store (Redis), which only a server uses.
  const config: Config = { ...full, devKeys: false, LICENSE_JWKS_FILE: undefined, LICENSE_SIGNING_KEY_FILE: undefined, REDIS_URL: undefined };
  const log = pino({ level: "warn", base: null }, new Writable({ write: (chunk, _enc, cb) => void (stderr.write(String(chunk)), cb()) }));
  await withDb(config, () => migrate(config.DATABASE_URL));
  // Nor a spec key: apply answers no poll, so a throwaway one stands in.
  const ctx = await createContext(config, log, { specKeys: new SpecKeyring({ signingKey: specSigner(generateKeyPairSync("ed25519").privateKey) }) });
  try {
    const actor = { sub: `cli:${osUser(env)}` };
    const result = await withDb(config, () => ctx.declarative.apply(dir, actor, { dryRun }));
    return { ...result, dir, actor: actor.sub, mode: "database", where: displayDbUrl(config.DATABASE_URL) };
  } finally {
    await ctx.stop().catch(() => {});
  }
}

/** What `chartroom apply` did or would do, and how: over HTTP (POST /api/v1/admin/apply) or on the database directly. */
export interface AppliedPlan extends ApplyResult {
  dir: string;
  actor: string;
  mode: "http" | "database";
  /** The server's URL, or the database's (its password masked). */
  where: string;
}

export function applyText(r: AppliedPlan): string {
  // Notes change nothing (a running rollout the files describe otherwise): printed after the steps.
  const notes = r.notes.map((n) => `note: ${n.file}: ${n.detail}\n`).join("");
  const conflicts =
    r.conflicts.length === 0
      ? ""
      : `${r.conflicts.length} conflict(s): apply would stop at the first and change nothing:\n` + table(["TARGET", "FILE", "CODE", "MESSAGE"], r.conflicts.map((c) => [c.target, c.file, c.code, c.message]));
  // A dry run shows how each step changes the values the channel serves.
  const diffs = r.dryRun
    ? r.steps
        .filter((s) => s.valuesDiff !== undefined && s.valuesDiff.length > 0)
        .map((s) => `values of ${s.target} after ${s.action}:\n${plain(diffLines(s.valuesDiff!))}`)
        .join("")
    : "";
  if (r.steps.length === 0) return `${r.conflicts.length === 0 ? `nothing to do: the database already matches ${r.dir}\n` : `no step would be applied from ${r.dir}\n`}${conflicts}${notes}`;
  const head = r.dryRun ? `plan for ${r.dir} (dry run: nothing was written), ${r.steps.length} step(s):\n` : `applied ${r.dir} as ${r.actor}, ${r.steps.length} step(s):\n`;
  return head + table(["ACTION", "TARGET", "FILE", "DETAIL"], r.steps.map((s) => [s.action, s.target, s.file, s.detail])) + diffs + conflicts + notes;
}

/** Which way apply went, for stderr. */
export function applyModeNote(r: AppliedPlan): string {
  return r.mode === "http"
    ? `note: applied over HTTP (POST ${r.where.replace(/\/+$/, "")}/api/v1/admin/apply) as ${r.actor}\n`
    : `note: applied to the database ${r.where} directly (local mode: for first boot and break-glass; set CHARTROOM_TOKEN to apply through the server)\n`;
}

export function tokenText(t: MintedToken | MintedLicense): string {
  return `${t.token}\n`;
}

