// Builds the Prisma client for the configured provider. Both generated
// clients come from the same models (prisma/models.prisma), so they share
// one API; repositories are typed against the SQLite client's types.
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient as SqliteClient } from "../generated/sqlite/client.js";
import { PrismaClient as PostgresClient } from "../generated/postgresql/client.js";

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

export function createDb(url: string): Db {
  if (providerOf(url) === "sqlite") {
    // WAL (set by the migrator, kept by the file): readers never wait on the
    // writer. synchronous=FULL is set by createStore. The busy timeout rides
    // out a concurrent writer (the CLI's apply while the server runs).
    const adapter = new PrismaBetterSQLite3({ url: `file:${sqlitePath(url)}`, timeout: 5000 });
    return new SqliteClient({ adapter });
  }
  const adapter = new PrismaPg({ connectionString: url, max: 10, connectionTimeoutMillis: 5000 });
  return new PostgresClient({ adapter }) as unknown as Db;
}

import type { Prisma as P } from "../generated/sqlite/client.js";
/** Our values/chart/images are JSON by construction (validated by zod). */
export function asJson(v: unknown): P.InputJsonValue {
  return v as P.InputJsonValue;
}
