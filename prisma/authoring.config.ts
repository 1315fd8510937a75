// Used only to author migrations offline (scripts/new-migration.mjs): the
// Prisma CLI runs its wasm schema engine through this driver adapter
// instead of the native engine it cannot download here.
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  adapter: async () => new PrismaBetterSQLite3({ url: "file::memory:" }),
});
