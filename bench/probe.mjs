// Benchmark-only preload (node --import ./bench/probe.mjs dist/server.js):
// for a build without /metrics counters, this captures the server's
// LicenseVerifier instance on its first cachedForAuthorization() call (then puts the
// original method back: no cost afterwards) and, on SIGWINCH, writes
// verifier.stats() ({ hits, misses, size, max }), process.memoryUsage() and
// the V8 heap spaces' used sizes as JSON to $BENCH_STATS_FILE. It changes nothing else. (SIGWINCH because
// its default action is to do nothing, and close-with-grace, which
// src/server.ts uses, shuts the server down on SIGUSR2; SIGUSR1 belongs to
// Node's inspector.)
import { renameSync, writeFileSync } from "node:fs";
import v8 from "node:v8";
import { LicenseVerifier } from "../dist/licensing/verify-license.js";

const original = LicenseVerifier.prototype.cachedForAuthorization;
let verifier;
function capture(instance) {
  verifier = instance;
  LicenseVerifier.prototype.cachedForAuthorization = original;
}
LicenseVerifier.prototype.cachedForAuthorization = function (header) {
  capture(this);
  return original.call(this, header);
};

process.on("SIGWINCH", () => {
  const file = process.env.BENCH_STATS_FILE;
  if (!file) return;
  const spaces = v8.getHeapSpaceStatistics();
  const heapSpaces = Object.fromEntries(spaces.map((h) => [h.space_name, h.space_used_size]));
  const heapSpacesCommitted = Object.fromEntries(spaces.map((h) => [h.space_name, h.physical_space_size]));
  const stats = { verifier: verifier ? verifier.stats() : null, memory: process.memoryUsage(), heapSpaces, heapSpacesCommitted, at: Date.now() };
  writeFileSync(file + ".tmp", JSON.stringify(stats));
  renameSync(file + ".tmp", file); // the reader never sees a half-written file
});
