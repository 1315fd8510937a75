#!/usr/bin/env node
// Makes a checkout runnable: writes the per-provider Prisma schemas from
// prisma/models.prisma, generates both Prisma clients (offline: generator
// "prisma-client" with the wasm query compiler) and compiles TypeScript.
// Runs on `npm install` (postinstall) and before `npm start` with
// --if-stale, where it only redoes what the sources have changed.
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const ifStale = process.argv.includes("--if-stale");
export const providers = {
  sqlite: "file:./data/chartroom.db",
  postgresql: "postgresql://postgres@127.0.0.1:5432/chartroom",
};

function header(provider) {
  return `// GENERATED from prisma/models.prisma by scripts/prepare.mjs — do not edit.
datasource db {
  provider = "${provider}"
  url      = env("DATABASE_URL")
}

generator client {
  provider            = "prisma-client"
  output              = "../../src/generated/${provider}"
  engineType          = "client"
  moduleFormat        = "esm"
  importFileExtension = "js"
}

`;
}

export function writeSchemas() {
  const models = readFileSync(join(root, "prisma/models.prisma"), "utf8");
  const written = {};
  for (const provider of Object.keys(providers)) {
    const file = join(root, "prisma", provider, "schema.prisma");
    mkdirSync(dirname(file), { recursive: true });
    const text = header(provider) + models;
    if (!existsSync(file) || readFileSync(file, "utf8") !== text) writeFileSync(file, text);
    written[provider] = { file, hash: createHash("sha256").update(text).digest("hex") };
  }
  return written;
}

// Prisma 6.19 asks for its native engines even where it only runs the wasm
// ones; pointing these at any existing file stops the download (which
// cannot reach Prisma's host here). See docs/data.md.
export function offlinePrismaEnv() {
  return {
    PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
    PRISMA_QUERY_ENGINE_LIBRARY: process.execPath,
    PRISMA_HIDE_UPDATE_MESSAGE: "1",
    CHECKPOINT_DISABLE: "1",
  };
}

export function prismaBin() {
  return join(root, "node_modules/prisma/build/index.js");
}

function generate(provider, schema) {
  const stamp = join(root, "src/generated", provider, ".schema-hash");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === schema.hash) return false;
  execFileSync(process.execPath, [prismaBin(), "generate", "--no-hints", "--schema", schema.file], {
    cwd: root,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ...offlinePrismaEnv(), DATABASE_URL: providers[provider] },
  });
  writeFileSync(stamp, schema.hash);
  return true;
}

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

function build() {
  const out = join(root, "dist/server.js");
  if (ifStale && existsSync(out)) {
    const sources = Math.max(newestMtime(join(root, "src")), statSync(join(root, "tsconfig.json")).mtimeMs);
    if (sources <= statSync(out).mtimeMs) return buildConsole();
  }
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
  buildConsole();
}

// The web console (src/routes/console-routes.ts serves dist/console):
// console/*.ts compiled by console/tsconfig.json (DOM types, ES modules),
// then its HTML, CSS and images copied next to the scripts.
const CONSOLE_STATIC = /\.(html|css|png|svg)$/;
function buildConsole() {
  const src = join(root, "console");
  const out = join(root, "dist/console");
  if (ifStale && existsSync(join(out, "main.js")) && newestMtime(src) <= statSync(join(out, "main.js")).mtimeMs) return;
  mkdirSync(out, { recursive: true });
  execFileSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", "console/tsconfig.json"], {
    cwd: root,
    stdio: "inherit",
  });
  for (const name of readdirSync(src)) {
    if (CONSOLE_STATIC.test(name)) copyFileSync(join(src, name), join(out, name));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const schemas = writeSchemas();
  for (const [provider, schema] of Object.entries(schemas)) generate(provider, schema);
  if (!process.argv.includes("--no-build")) build();
}
