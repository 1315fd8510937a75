// A bundle as a .tar.gz (docs/api.md §11): written as a stream (tar-stream's
// pack, through gzip) and read back the same way, never unpacked onto a disk.
// Entries are plain files (mode 0644, a fixed owner, the bundle's own time),
// so the archive's bytes depend on its contents and createdAt only.
import { Readable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";
import { extract, pack } from "tar-stream";
import type { BundleFile } from "./bundle-contents.js";

/** The .tar.gz of `files`, in order, as a stream: entries are written as the reader takes them. */
export function packBundle(files: BundleFile[], mtime: Date): Readable {
  const p = pack();
  const gzip = createGzip();
  (async () => {
    for (const f of files) {
      await new Promise<void>((resolve, reject) => {
        p.entry({ name: f.path, size: f.bytes.length, mode: 0o644, mtime, uid: 0, gid: 0, uname: "chartroom", gname: "chartroom", type: "file" }, f.bytes, (err) => (err ? reject(err) : resolve()));
      });
    }
    p.finalize();
  })().catch((err: unknown) => p.destroy(err as Error));
  p.on("error", (err: Error) => gzip.destroy(err));
  return (p as unknown as Readable).pipe(gzip);
}

/** A bundle could not be read: not a gzip'd tar, an entry that is not a plain file, or over a bound. */
export class BundleReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BundleReadError";
  }
}

export interface ReadBundleOptions {
  /** The most bytes of all entries together. */
  maxBytes: number;
  /** The most entries. */
  maxEntries?: number;
}

/**
 * The files of a .tar.gz, by path. Directories are skipped; anything else
 * that is not a plain file (a link, a device) and a path seen twice are
 * refused: a verified bundle holds exactly what its manifest lists.
 */
export async function readBundle(input: Readable, opts: ReadBundleOptions): Promise<Map<string, Buffer>> {
  const maxEntries = opts.maxEntries ?? 10_000;
  const files = new Map<string, Buffer>();
  const x = extract();
  let total = 0;
  const done = new Promise<void>((resolve, reject) => {
    x.on("entry", (h, stream, next) => {
      const fail = (err: Error) => {
        stream.resume();
        x.destroy(err);
      };
      if (h.type === "directory") {
        stream.on("end", next);
        stream.resume();
        return;
      }
      if (h.type !== "file") return fail(new BundleReadError(`${h.name}: is a ${h.type ?? "special"} entry; a bundle holds plain files only`));
      const name = h.name.replace(/^\.\//, "");
      if (files.has(name)) return fail(new BundleReadError(`${name}: appears twice in the archive`));
      if (files.size >= maxEntries) return fail(new BundleReadError(`more than ${maxEntries} entries`));
      const chunks: Buffer[] = [];
      stream.on("data", (c: unknown) => {
        if (!Buffer.isBuffer(c)) return fail(new BundleReadError(`${name}: unreadable entry`));
        total += c.length;
        if (total > opts.maxBytes) return fail(new BundleReadError(`more than ${opts.maxBytes} bytes unpacked`));
        chunks.push(c);
      });
      stream.on("end", () => {
        files.set(name, Buffer.concat(chunks));
        next();
      });
    });
    x.on("finish", resolve);
    x.on("error", (err: Error) => reject(err instanceof BundleReadError ? err : new BundleReadError(`not a readable .tar.gz: ${err.message}`)));
  });
  const gunzip = createGunzip();
  gunzip.on("error", (err: Error) => x.destroy(new BundleReadError(`not a gzip file: ${err.message}`)));
  input.on("error", (err: Error) => x.destroy(err));
  input.pipe(gunzip).pipe(x as unknown as NodeJS.WritableStream);
  await done;
  return files;
}
