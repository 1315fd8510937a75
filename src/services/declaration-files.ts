// The files of a declarative channels directory (docs/api.md §5), found and
// read safely: DIR may come from a git repository someone else writes to.
//
// - Nothing outside DIR is read. Every file, and the releases/ directory,
//   is resolved with realpath; a symbolic link whose target lies inside DIR
//   is followed, one whose target lies outside it (or does not exist) is
//   refused, naming the file and its target.
// - Only regular files: a FIFO or a device named *.yaml is refused, never
//   opened for reading (it could block forever or never end).
// - Limits, checked with stat before anything is read: DECLARATION_LIMITS
//   (a number of files, bytes per file, bytes in all). A file is then read
//   through its descriptor, at most the limit plus one byte, so one that
//   grows after the stat is refused too.
// Every refusal is a ValidationError naming the file (relative to DIR) and
// the limit or the reason.
import { closeSync, constants, fstatSync, lstatSync, opendirSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { join, sep } from "node:path";
import { fieldError } from "../errors.js";

export interface DeclarationLimits {
  /** *.yaml / *.yml files in DIR and DIR/releases together. */
  maxFiles: number;
  /** Bytes per file: the server's BODY_LIMIT_BYTES default, so a release file is no bigger than a POST /releases body may be. */
  maxFileBytes: number;
  /** Bytes of all the files together. */
  maxTotalBytes: number;
}

export const DECLARATION_LIMITS: DeclarationLimits = { maxFiles: 2000, maxFileBytes: 1024 * 1024, maxTotalBytes: 16 * 1024 * 1024 };

export interface DeclarationFile {
  /** The path relative to DIR, as written (releases/<version>.yaml): what messages name. */
  rel: string;
  /** The resolved path inside DIR: what is read. */
  real: string;
  size: number;
}

export interface DeclarationFiles {
  releases: DeclarationFile[];
  channels: DeclarationFile[];
}

const YAML_FILE = /\.ya?ml$/;

/** "1 MiB", "16 MiB", "512 KiB", or bytes. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

function errnoCode(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

function isInside(root: string, real: string): boolean {
  return real === root || real.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** The resolved path of `rel` under `root`, refused if it leads outside `root`. */
function resolveInside(root: string, rel: string): string {
  const path = join(root, rel);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    const link = lstatSafe(path)?.isSymbolicLink();
    throw fieldError(rel, link ? "is a symbolic link whose target does not exist" : `cannot be read (${errnoCode(err)})`);
  }
  if (!isInside(root, real)) throw fieldError(rel, `is a symbolic link to ${real}, outside the directory; apply reads only files inside it`);
  return real;
}

function lstatSafe(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** The *.yaml names in `dir` (relative to it), sorted; stops past `max` names. */
function yamlNames(dir: string, max: number): string[] {
  const names: string[] = [];
  const d = opendirSync(dir);
  try {
    for (let e = d.readSync(); e !== null && names.length <= max; e = d.readSync()) if (YAML_FILE.test(e.name)) names.push(e.name);
  } finally {
    d.closeSync();
  }
  return names.sort();
}

/**
 * Finds the declarations under `dir` and checks them against `limits`,
 * reading no file. Throws a ValidationError naming the file.
 */
export function findDeclarationFiles(dir: string, limits: DeclarationLimits = DECLARATION_LIMITS): DeclarationFiles {
  let root: string;
  try {
    root = realpathSync(dir);
  } catch {
    throw fieldError("dir", `${dir} is not a directory`);
  }
  if (!statSync(root).isDirectory()) throw fieldError("dir", `${dir} is not a directory`);

  const channelNames = yamlNames(root, limits.maxFiles);
  let releaseNames: string[] = [];
  if (lstatSafe(join(root, "releases"))) {
    const releasesDir = resolveInside(root, "releases");
    if (!statSync(releasesDir).isDirectory()) throw fieldError("releases", "is not a directory");
    releaseNames = yamlNames(releasesDir, limits.maxFiles).map((n) => `releases/${n}`);
  }
  const count = channelNames.length + releaseNames.length;
  if (count > limits.maxFiles) throw fieldError("dir", `${dir} holds more than ${limits.maxFiles} YAML files (the limit)`);

  let total = 0;
  const check = (rel: string): DeclarationFile => {
    const real = resolveInside(root, rel);
    const st = statSync(real);
    if (!st.isFile()) throw fieldError(rel, "is not a regular file");
    if (st.size > limits.maxFileBytes) throw fieldError(rel, `is ${st.size} bytes, over the limit of ${formatBytes(limits.maxFileBytes)} per file`);
    total += st.size;
    if (total > limits.maxTotalBytes) throw fieldError(rel, `brings the files to ${total} bytes, over the limit of ${formatBytes(limits.maxTotalBytes)} for the whole directory`);
    return { rel, real, size: st.size };
  };
  return { releases: releaseNames.map(check), channels: channelNames.map(check) };
}

/**
 * Reads a regular file as UTF-8, at most `maxBytes`: refused (naming
 * `name`) if it is not a regular file, is bigger, or is not valid UTF-8.
 * Reads through one descriptor, so what was checked is what is read.
 */
export function readFileBounded(path: string, name: string, maxBytes: number): string {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused below).
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fieldError(name, `cannot be read (${errnoCode(err)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw fieldError(name, "is not a regular file");
    if (st.size > maxBytes) throw fieldError(name, `is ${st.size} bytes, over the limit of ${formatBytes(maxBytes)} per file`);
    // One byte more than the size: a file that grew meanwhile is noticed, never read on.
    const buf = Buffer.alloc(st.size + 1);
    let n = 0;
    while (n < buf.length) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
    }
    if (n > st.size) throw fieldError(name, "changed while it was being read");
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, n));
    } catch {
      throw fieldError(name, "is not valid UTF-8 text");
    }
  } finally {
    closeSync(fd);
  }
}

export function readDeclarationFile(file: DeclarationFile, limits: DeclarationLimits = DECLARATION_LIMITS): string {
  return readFileBounded(file.real, file.rel, limits.maxFileBytes);
}
