// Builds the Prisma client for the configured provider. Both generated
// clients come from the same models (prisma/models.prisma), so they share
// one API; repositories are typed against the SQLite client's types.
import { mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import type { PrismaClient as SqliteClient } from "../generated/sqlite/client.js";
import { DATABASE_TIMEOUTS } from "./timeouts.js";
import { guardTransactions } from "./transaction-guard.js";

export type Db = InstanceType<typeof SqliteClient>;
export { Prisma } from "../generated/sqlite/client.js";

export type Provider = "sqlite" | "postgresql";

export function providerOf(url: string): Provider {
  return url.startsWith("file:") ? "sqlite" : "postgresql";
}

/** Absolute path of a SQLite `file:` URL, its directory created. */
export function sqlitePath(url: string): string {
  const path = url.replace(/^file:/, "").replace(/\?.*$/, "");
  const abs = resolve(path);
  mkdirSync(dirname(abs), { recursive: true });
  return abs;
}

/**
 * The client for the URL's provider. Each provider's client and driver are
 * imported only when used: a SQLite deployment never loads pg and the
 * PostgreSQL client (~25 MB and ~0.15 s of start-up), nor the reverse.
 */
export async function createDb(url: string): Promise<Db> {
  if (providerOf(url) === "sqlite") {
    const [{ PrismaBetterSQLite3 }, { PrismaClient }] = await Promise.all([import("@prisma/adapter-better-sqlite3"), import("../generated/sqlite/client.js")]);
    // WAL (set by the migrator, kept by the file): readers never wait on the
    // writer. synchronous=FULL is set by createStore. The busy timeout rides
    // out a concurrent writer (the CLI's apply while the server runs). The
    // guard releases a transaction's lock when its COMMIT/ROLLBACK fails
    // (a full disk, a read-only file: src/db/transaction-guard.ts).
    const adapter = guardTransactions(new PrismaBetterSQLite3({ url: `file:${sqlitePath(url)}`, timeout: DATABASE_TIMEOUTS.sqliteBusyMs }));
    return new PrismaClient({ adapter, ...(compilerLoadedOnce("sqlite") as object) });
  }
  const [{ PrismaPg }, { PrismaClient }] = await Promise.all([import("@prisma/adapter-pg"), import("../generated/postgresql/client.js")]);
  // Every statement is bounded twice (src/db/timeouts.ts): by the server
  // (statement_timeout) and by the client (query_timeout, for a server that
  // does not answer at all; the pool then closes that connection).
  const adapter = guardTransactions(
    new PrismaPg({
      connectionString: url,
      max: 10,
      connectionTimeoutMillis: DATABASE_TIMEOUTS.connectMs,
      statement_timeout: DATABASE_TIMEOUTS.statementMs,
      query_timeout: DATABASE_TIMEOUTS.queryMs,
      keepAlive: true,
    }),
  );
  return new PrismaClient({ adapter, ...(compilerLoadedOnce("postgresql") as object) }) as unknown as Db;
}

import type { Prisma as P } from "../generated/sqlite/client.js";
/** Our values/chart/images are JSON by construction (validated by zod). */
export function asJson(v: unknown): P.InputJsonValue {
  return v as P.InputJsonValue;
}

const require = createRequire(import.meta.url);
/** Node's global (the project's type libraries do not declare it). */
declare const WebAssembly: { Module: new (bytes: Uint8Array) => object };
/** The part of the generated client's config this touches. */
interface ClientConfig {
  compilerWasm?: { getQueryCompilerWasmModule: () => Promise<unknown> };
}

/**
 * Prisma's generated client imports its query compiler (WebAssembly) from
 * an ES module that is one 2.4 MB base64 string. An ES module is never
 * unloaded, so the heap kept that module's source and the string, about
 * 5 MB, for the life of the process (docs/performance.md, decision 20).
 * This reads the same string from the runtime's CommonJS twin as a file
 * (not as a module, which its parent would keep), compiles it, and keeps
 * only the compiled module. `configOverride` is the client's
 * documented-internal constructor hook. Should a Prisma upgrade change that
 * file or drop `compilerWasm`, the client's own loader is used unchanged.
 */
function compilerLoadedOnce(provider: Provider) {
  return {
    __internal: {
      configOverride: <C extends ClientConfig>(config: C): C => {
        const original = config.compilerWasm;
        if (!original) return config;
        return {
          ...config,
          compilerWasm: {
            ...original,
            getQueryCompilerWasmModule: async () => {
              const bytes = compilerBytes(provider);
              return bytes ? new WebAssembly.Module(bytes) : original.getQueryCompilerWasmModule();
            },
          },
        };
      },
    },
  };
}

/** The query compiler's bytes from `module.exports = { wasm }` with `const wasm = "<base64>"`, or undefined. */
export function compilerBytes(provider: Provider): Buffer | undefined {
  try {
    const text = readFileSync(require.resolve(`@prisma/client/runtime/query_compiler_bg.${provider}.wasm-base64.js`), "latin1");
    const m = /^const wasm = "([A-Za-z0-9+/=]+)";\s*module\.exports = \{ wasm \}\s*$/.exec(text);
    const bytes = m ? Buffer.from(m[1] as string, "base64") : undefined;
    // "\0asm": a WebAssembly binary's magic number.
    return bytes && bytes.subarray(0, 4).toString("latin1") === "\0asm" ? bytes : undefined;
  } catch {
    return undefined;
  }
}
