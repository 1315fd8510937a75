// Builds the Prisma client for the configured provider. Both generated
// clients come from the same models (prisma/models.prisma), so they share
// one API; repositories are typed against the SQLite client's types.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { PrismaClient as SqliteClient } from "../generated/sqlite/client.js";

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
    // out a concurrent writer (the CLI's apply while the server runs).
    const adapter = new PrismaBetterSQLite3({ url: `file:${sqlitePath(url)}`, timeout: 5000 });
    return new PrismaClient({ adapter });
  }
  const [{ PrismaPg }, { PrismaClient }] = await Promise.all([import("@prisma/adapter-pg"), import("../generated/postgresql/client.js")]);
  const adapter = new PrismaPg({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  return new PrismaClient({ adapter }) as unknown as Db;
}

import type { Prisma as P } from "../generated/sqlite/client.js";
/** Our values/chart/images are JSON by construction (validated by zod). */
export function asJson(v: unknown): P.InputJsonValue {
  return v as P.InputJsonValue;
}
