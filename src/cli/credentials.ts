// `chartroom login`'s token store: one admin token per server URL in
// credentials.json in $XDG_CONFIG_HOME/chartroom (default
// ~/.config/chartroom), the file mode 0600 and its
// directory 0700, written whole through a temporary file (a crash leaves
// the old file or the new one, never half of one). CHARTROOM_TOKEN, when
// set, wins over the file.
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { UsageError } from "./args.js";

export interface StoredToken {
  token: string;
  savedAt: string;
  /** The token's sub and roles, read from its payload for `chartroom login`'s answer (never verified here). */
  sub?: string | undefined;
}

interface CredentialsFile {
  servers: Record<string, StoredToken>;
}

/** Where the tokens are kept, from the environment main() was given. */
export function credentialsPath(env: Record<string, string | undefined>): string {
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME?.trim() || homedir(), ".config");
  return join(base, "chartroom", "credentials.json");
}

function read(file: string): CredentialsFile {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { servers: {} };
    throw new UsageError(`${file}: cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UsageError(`${file} is not JSON; remove it and run chartroom login again`);
  }
  const servers = (data as { servers?: unknown })?.servers;
  if (typeof servers !== "object" || servers === null || Array.isArray(servers)) throw new UsageError(`${file} has no "servers" object; remove it and run chartroom login again`);
  return { servers: servers as Record<string, StoredToken> };
}

function write(file: string, data: CredentialsFile): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  // The mode of a file that existed (an editor may have widened it) is set again.
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

/** The token stored for `url` (a parseBaseUrl root, no trailing slash), if any. */
export function storedToken(env: Record<string, string | undefined>, url: string): string | undefined {
  const file = credentialsPath(env);
  let data: CredentialsFile;
  try {
    data = read(file);
  } catch {
    // A broken file must not stop a command that has CHARTROOM_TOKEN or needs no token; login says what is wrong.
    return undefined;
  }
  const t = data.servers[url]?.token;
  return typeof t === "string" && t !== "" ? t : undefined;
}

/** A token file others can read: a warning to print (on stderr), or undefined. */
export function looseModeWarning(env: Record<string, string | undefined>): string | undefined {
  const file = credentialsPath(env);
  try {
    const mode = statSync(file).mode & 0o777;
    if (process.platform !== "win32" && (mode & 0o077) !== 0) return `warning: ${file} has mode ${mode.toString(8).padStart(4, "0")}; others may read its tokens: chmod 600 ${file}\n`;
  } catch {
    // No file: nothing to warn about.
  }
  return undefined;
}

export function saveToken(env: Record<string, string | undefined>, url: string, token: StoredToken): string {
  const file = credentialsPath(env);
  const data = read(file);
  data.servers[url] = token;
  write(file, data);
  return file;
}

/** Removes the token of `url` (every token with `all`); the URLs removed. */
export function removeToken(env: Record<string, string | undefined>, url: string, all: boolean): { file: string; removed: string[] } {
  const file = credentialsPath(env);
  const data = read(file);
  const removed = all ? Object.keys(data.servers) : url in data.servers ? [url] : [];
  if (removed.length === 0) return { file, removed };
  for (const u of removed) delete data.servers[u];
  write(file, data);
  return { file, removed };
}
