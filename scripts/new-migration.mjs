#!/usr/bin/env node
// Authors a migration for both providers from prisma/models.prisma:
//   node scripts/new-migration.mjs add_something
// It diffs the datamodel recorded at the last migration (schema.snapshot.prisma
// in each migrations folder) against the current one with `prisma migrate
// diff --script` (which works offline, unlike `migrate dev`), and writes
// prisma/<provider>/migrations/<timestamp>_<name>/migration.sql.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { offlinePrismaEnv, prismaBin, providers, root, writeSchemas } from "./prepare.mjs";

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/.test(name)) {
  console.error("usage: node scripts/new-migration.mjs NAME   (NAME: lowercase letters, digits, _)");
  process.exit(2);
}
const stamp = new Date().toISOString().replace(/[-:T]/g, "").slice(0, 14);
const schemas = writeSchemas();
for (const provider of Object.keys(providers)) {
  const dir = join(root, "prisma", provider, "migrations");
  const snapshot = join(dir, "schema.snapshot.prisma");
  const from = existsSync(snapshot) ? ["--from-schema-datamodel", snapshot] : ["--from-empty"];
  const sql = execFileSync(
    process.execPath,
    [prismaBin(), "migrate", "diff", "--config", "prisma/authoring.config.ts", ...from,
      "--to-schema-datamodel", schemas[provider].file, "--script"],
    { cwd: root, env: { ...process.env, ...offlinePrismaEnv(), DATABASE_URL: providers[provider] }, encoding: "utf8" },
  );
  if (/^-- This is an empty migration\.\s*$/m.test(sql) || sql.trim() === "") {
    console.log(`${provider}: no change`);
    continue;
  }
  const target = join(dir, `${stamp}_${name}`);
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, "migration.sql"), sql);
  copyFileSync(schemas[provider].file, snapshot);
  writeFileSync(join(dir, "migration_lock.toml"), `provider = "${provider}"\n`);
  console.log(`${provider}: wrote ${target}/migration.sql`);
}
