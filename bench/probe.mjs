// Benchmark-only preload (node --import ./bench/probe.mjs dist/server.js):
// Chartroom has no stats endpoint yet, so this captures the server's
// LicenseVerifier instance on its first verify() call (then puts the
// original method back: no cost afterwards) and, on SIGWINCH, writes
// verifier.stats() ({ hits, misses, size, max }), process.memoryUsage() and
// the V8 heap spaces' used sizes as JSON to $BENCH_STATS_FILE. It changes nothing else. (SIGWINCH because
// its default action is to do nothing, and close-with-grace, which
// src/server.ts uses, shuts the server down on SIGUSR2; SIGUSR1 belongs to
// Node's inspector.)
import { renameSync, writeFileSync } from "node:fs";
import v8 from "node:v8";
import { LicenseVerifier } from "../dist/licensing/verify-license.js";

const original = LicenseVerifier.prototype.verify;
let verifier;
function capture(instance) {
  verifier = instance;
  LicenseVerifier.prototype.verify = original;
}
LicenseVerifier.prototype.verify = function (token) {
  capture(this);
  return original.call(this, token);
};

process.on("SIGWINCH", () => {
  const file = process.env.BENCH_STATS_FILE;
  if (!file) return;
  const heapSpaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((h) => [h.space_name, h.space_used_size]));
  const stats = { verifier: verifier ? verifier.stats() : null, memory: process.memoryUsage(), heapSpaces, at: Date.now() };
  writeFileSync(file + ".tmp", JSON.stringify(stats));
  renameSync(file + ".tmp", file); // the reader never sees a half-written file
});
