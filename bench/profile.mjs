#!/usr/bin/env node
// CPU profile of one Chartroom scenario under wrk (same settings as
// bench/run.mjs): starts `node --cpu-prof dist/server.js` pinned to CPU 0,
// loads it from CPU 1 for BENCH_SECONDS (10), stops it gracefully (the
// profile is written at exit), copies the .cpuprofile to bench/results/ and
// prints its top frames (bench/cpuprofile-top.mjs).
// usage: node bench/profile.mjs [warm|304|cold|cold-one|start|rollout]
//   cold: distinct licensees; cold-one: never-seen tokens of one licensee;
//   rollout: the warm poll of channel stable with a rollout at 50 %, its
//   licensees rotating (bench/lua/rotate.lua), each sent once before;
//   start: spawn → first 200 from /readyz on a fresh SQLite database (no load)
//   (BENCH_LICENSES tokens for both, default 60000)
import { copyFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { formatSummary, summarize } from "./cpuprofile-top.mjs";
import {
  SPEC_PATH, basicHeader, benchDir, cleanupAll, ensureTools, get, installGuards, log, makeTempDir, prepareKeys, root, runWrk, runWrkPlain, settings, setupRolloutChannels, signLicenses, startServer,
} from "./lib.mjs";

const scenario = process.argv[2] ?? "warm";
if (!["warm", "304", "cold", "cold-one", "start", "rollout"].includes(scenario)) {
  process.stderr.write("usage: node bench/profile.mjs [warm|304|cold|cold-one|start|rollout]\n");
  process.exit(2);
}

async function main() {
  installGuards((5 * 60 + 3 * settings.seconds) * 1000);
  const tools = ensureTools({ needNginx: false });
  const tmp = makeTempDir("chartroom-profile-");
  const keys = prepareKeys(tmp);
  const { loadSigningKey } = await import(pathToFileURL(join(root, "dist/licensing/license-keys.js")).href);
  const { signLicense } = await import(pathToFileURL(join(root, "dist/licensing/issue-license.js")).href);
  const now = Math.floor(Date.now() / 1000);
  const warmAuth = basicHeader(signLicense(loadSigningKey(keys.keyFile), { sub: "bench-warm", channel: "stable", jti: "bench-warm", exp: now + 86400, iat: now }));
  let headersFile;
  let n = 0;
  const cold = scenario.startsWith("cold");
  if (cold || scenario === "rollout") {
    n = Number(process.env.BENCH_LICENSES) || 60_000;
    log(`signing ${n} licenses…`);
    const tokens = await signLicenses({ keyFile: keys.keyFile, n, workers: tools.cpus, ...(scenario === "cold-one" ? { sub: "bench-one-licensee" } : {}) });
    headersFile = join(tmp, "authorization.txt");
    writeFileSync(headersFile, tokens.map(basicHeader).join("\n") + "\n");
  }
  const profDir = join(tmp, "prof");
  mkdirSync(profDir);
  const server = await startServer({ tools, keys, dataDir: join(tmp, "data"), nodeArgs: ["--cpu-prof", "--cpu-prof-dir", profDir], name: "profiled" });
  if (scenario === "rollout") {
    await setupRolloutChannels(server, keys, { rollout: true });
    await runWrk({ tools, port: server.port, script: join(benchDir, "lua/tokens.lua"), args: [headersFile, "1", String(n), "200"], seconds: Math.max(300, Math.ceil(n / 200)), server });
  }
  if (scenario === "start") {
    const spawnedUs = Number(process.hrtime.bigint() / 1000n) - Math.round(server.readyMs * 1000);
    const readyUs = Number(process.hrtime.bigint() / 1000n);
    log(`start → ready under --cpu-prof: ${server.readyMs.toFixed(0)} ms`);
    await server.stop(20_000);
    const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
    if (!file) throw new Error("no .cpuprofile written");
    const resultsDir = join(benchDir, "results");
    mkdirSync(resultsDir, { recursive: true });
    const kept = join(resultsDir, `profile-start-${new Date().toISOString().replace(/[:.]/g, "-")}.cpuprofile`);
    copyFileSync(join(profDir, file), kept);
    const s = summarize(JSON.parse(readFileSync(kept, "utf8")), 30, { fromUs: spawnedUs, toUs: readyUs });
    const text = `start → ready: ${server.readyMs.toFixed(0)} ms under the profiler\n${formatSummary(s, 30)}\n`;
    writeFileSync(join(resultsDir, "profile-start.txt"), text);
    process.stdout.write(text);
    return;
  }
  const first = await get(server.port, SPEC_PATH, { authorization: warmAuth });
  if (first.status !== 200) throw new Error(`spec request answered ${first.status}`);
  const fixed = join(benchDir, "lua/fixed.lua");
  if (settings.warmupSeconds > 0) await runWrk({ tools, port: server.port, script: fixed, args: [warmAuth, "-", "200"], seconds: settings.warmupSeconds, server });
  const fromUs = Number(process.hrtime.bigint() / 1000n);
  const r =
    scenario === "rollout"
      ? await runWrkPlain({ tools, port: server.port, seconds: settings.seconds, cpuPids: [server.pid], server, script: join(benchDir, "lua/rotate.lua"), args: [headersFile, "1"] })
      : cold
      ? await runWrk({ tools, port: server.port, script: join(benchDir, "lua/tokens.lua"), args: [headersFile, "1", String(n), "200"], seconds: settings.seconds, cpuPids: [server.pid], server })
      : await runWrk({ tools, port: server.port, script: fixed, args: scenario === "304" ? [warmAuth, first.headers.etag, "304"] : [warmAuth, "-", "200"], seconds: settings.seconds, cpuPids: [server.pid], server });
  const toUs = Number(process.hrtime.bigint() / 1000n);
  log(`${scenario} under --cpu-prof: ${Math.round(r.rps)} req/s, p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms, bad ${r.bad}`);
  await server.stop(20_000);
  const file = readdirSync(profDir).find((f) => f.endsWith(".cpuprofile"));
  if (!file) throw new Error("no .cpuprofile written (the server did not exit cleanly)");
  const resultsDir = join(benchDir, "results");
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  const kept = join(resultsDir, `profile-${scenario}-${stamp}.cpuprofile`);
  copyFileSync(join(profDir, file), kept);
  // only the samples taken while wrk ran (not start-up, warm-up or shutdown)
  const s = summarize(JSON.parse(readFileSync(kept, "utf8")), 30, { fromUs, toUs });
  const text = `${scenario}: ${Math.round(r.rps)} req/s under the profiler (p50 ${r.p50ms.toFixed(2)} ms, p99 ${r.p99ms.toFixed(2)} ms), ${settings.seconds} s, wrk -t1 -c${settings.connections}\n${formatSummary(s, 30)}\n`;
  writeFileSync(join(resultsDir, `profile-${scenario}.txt`), text);
  writeFileSync(join(resultsDir, `profile-${scenario}.json`), JSON.stringify({ scenario, cpuprofile: kept, window: { fromUs, toUs }, wrk: { ...r, wrkText: undefined }, summary: s }, null, 2) + "\n");
  process.stdout.write(text);
  log(`profile: ${kept} (open in Chrome DevTools → Performance, or speedscope); re-summarise: node bench/cpuprofile-top.mjs ${kept} 30 --from=${fromUs} --to=${toUs}`);
}

let code = 0;
try {
  await main();
} catch (err) {
  process.stderr.write(`profile: ${err?.stack ?? err}\n`);
  code = 2;
} finally {
  await cleanupAll();
}
process.exit(code);
