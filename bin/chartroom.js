#!/usr/bin/env node
// The `chartroom` command: runs the compiled CLI (dist/cli/main.js, built
// from src/cli by `npm install`, or by `node scripts/prepare.mjs`).
let cli;
try {
  cli = await import("../dist/cli/main.js");
} catch (err) {
  if (err?.code !== "ERR_MODULE_NOT_FOUND") throw err;
  process.stderr.write("chartroom: dist/cli/main.js is missing; build it with `node scripts/prepare.mjs` (or `npm install`)\n");
  process.exit(70);
}
const code = await cli.main(process.argv.slice(2));
process.exitCode = code;
// Exit once stdout is flushed, even if a pooled connection lingers.
process.stdout.write("", () => process.exit(code));
