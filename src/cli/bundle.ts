// `chartroom bundle export` and `chartroom bundle verify` (docs/api.md §11).
// export: GET /bundles into a temp file in the destination's directory,
// renamed into place only once the whole archive has arrived (a failed or
// interrupted download leaves nothing behind); progress on stderr when it is
// a terminal. verify: reads the archive in memory (never unpacked onto the
// disk) and checks it against a JWKS (a file, offline, or a URL) with
// src/services/bundle-verify.ts; any problem is a non-zero exit naming the file.
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, readFileSync, renameSync, statSync, unlinkSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { BundleReadError, readBundle } from "../services/bundle-archive.js";
import { verifyBundle, type VerifyReport } from "../services/bundle-verify.js";
import { UsageError } from "./args.js";
import type { Client } from "./client.js";
import { fields } from "./format.js";
import { LocalError } from "./local.js";
import type { Result } from "./remote.js";

/** The most a bundle may unpack to when verified (all of it is held in memory). */
const MAX_VERIFY_BYTES = 2 * 1024 * 1024 * 1024;

/** 4.2 MiB, 830 KiB, 512 bytes: for people watching a download. */
function formatBytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** The file name of Content-Disposition (the server's bundleFileName), if it is a plain one. */
function dispositionName(header: string | null): string | undefined {
  const m = /filename="([A-Za-z0-9._+-]+)"/.exec(header ?? "");
  return m?.[1];
}

export async function exportBundle(c: Client, o: { sub: string; channel: string; out?: string | undefined; progress: ((line: string) => void) | undefined }): Promise<Result> {
  const res = await c.download("/bundles", { sub: o.sub, channel: o.channel });
  const name = dispositionName(res.headers.get("content-disposition")) ?? `chartroom-${o.sub}-${o.channel}.tar.gz`.replace(/[^A-Za-z0-9._-]+/g, "_");
  const dest = resolve(o.out ?? name);
  if (existsSync(dest) && statSync(dest).isDirectory()) throw new UsageError(`--out ${o.out}: is a directory; name the file`);
  const temp = join(dirname(dest), `.${basename(dest)}.${randomBytes(6).toString("hex")}.partial`);
  const hash = createHash("sha256");
  let size = 0;
  let shownAt = 0;
  const count = new Transform({
    transform(chunk: Buffer, _enc, done) {
      size += chunk.length;
      hash.update(chunk);
      const now = Date.now();
      if (o.progress && now - shownAt > 200) {
        shownAt = now;
        o.progress(`receiving ${basename(dest)}: ${formatBytes(size)}`);
      }
      done(null, chunk);
    },
  });
  try {
    if (!res.body) throw new LocalError("the server answered without a body");
    await pipeline(Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>), count, createWriteStream(temp, { flags: "wx", mode: 0o644 }));
    renameSync(temp, dest);
  } catch (err) {
    try {
      unlinkSync(temp);
    } catch {
      // never created
    }
    if (o.progress && shownAt > 0) o.progress("");
    if (err instanceof LocalError || err instanceof UsageError) throw err;
    throw new LocalError(`the bundle download broke after ${formatBytes(size)}: ${(err as Error).message}; nothing was written to ${dest}`);
  }
  if (o.progress) {
    o.progress(`received ${basename(dest)}: ${formatBytes(size)}`);
    o.progress("");
  }
  const sha256 = hash.digest("hex");
  const release = res.headers.get("x-chartroom-bundle-release") ?? "";
  const json = { file: dest, size, sha256, sub: o.sub, channel: o.channel, release };
  return {
    json,
    text: fields([["file", dest], ["sub", o.sub], ["channel", o.channel], ["release", release], ["size", formatBytes(size)], ["sha256", sha256]]),
    note: `check it offline: chartroom bundle verify ${basename(dest)} --jwks jwks.json (the server's /.well-known/jwks.json)\n`,
  };
}

/** The JWKS of --jwks: a file, or an http(s) URL. */
async function loadJwks(where: string): Promise<{ keys: unknown[] }> {
  let text: string;
  if (/^https?:\/\//i.test(where)) {
    try {
      const res = await fetch(where, { redirect: "error", signal: AbortSignal.timeout(30_000), headers: { accept: "application/json" } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      text = await res.text();
    } catch (err) {
      throw new LocalError(`--jwks ${where}: cannot be fetched: ${(err as Error).message}`);
    }
  } else {
    try {
      text = readFileSync(where, "utf8");
    } catch (err) {
      throw new LocalError(`--jwks ${where}: cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new LocalError(`--jwks ${where}: is not JSON`);
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new LocalError(`--jwks ${where}: is not a JWKS ({"keys": [...]})`);
  return { keys };
}

function reportText(file: string, r: VerifyReport): string {
  const head = fields([
    ["bundle", file],
    ["sub", r.sub ?? "-"],
    ["channel", r.channel ?? "-"],
    ["release", r.release ?? "-"],
    ["created", r.createdAt ?? "-"],
  ]);
  const sigs = r.signatures.map((s) => `  ${s.file} over ${s.signs}: kid ${s.kid}, signed ${s.signedAt}\n`).join("");
  const files = r.verified.map((f) => `  ${f.path}  ${formatBytes(f.size)}  sha256 ${f.sha256}\n`).join("");
  return `${head}signatures verified:\n${sigs || "  none\n"}files verified (sha256 and size as manifest.json says):\n${files || "  none\n"}`;
}

export async function verifyBundleFile(file: string, jwksAt: string): Promise<Result> {
  const jwks = await loadJwks(jwksAt);
  let files: Map<string, Buffer>;
  try {
    files = await readBundle(createReadStream(file), { maxBytes: MAX_VERIFY_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") throw new LocalError(`${file}: no such file`);
    if (err instanceof BundleReadError) throw new LocalError(`${file}: ${err.message}`);
    throw new LocalError(`${file}: cannot be read: ${(err as Error).message}`);
  }
  const report = verifyBundle(files, jwks);
  if (!report.ok) {
    const lines = report.problems.map((p) => `  ${p.file}: ${p.problem}`).join("\n");
    throw new LocalError(`${file} FAILED verification (${report.problems.length} problem${report.problems.length === 1 ? "" : "s"}):\n${lines}`);
  }
  return { json: { file, ...report }, text: `${reportText(file, report)}OK: ${report.verified.length} files and ${report.signatures.length} signatures verified\n` };
}
