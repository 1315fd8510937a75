#!/usr/bin/env node
// Chartroom benchmark (`npm run bench`). In one run on one machine:
//   - start to ready: spawn `node dist/server.js` on a fresh SQLite database
//     with the sample channels, poll /readyz every 10 ms until 200;
//   - warm licensed GET and the 304 path, as interleaved rounds: in each
//     round Chartroom, nginx serving the exact bytes as a static file, a raw
//     node:http server writing Chartroom's bytes and headers (Node's limit)
//     and bare fastify (calibration) each run once, in rotating order, under
//     plain wrk (no Lua: a Lua response() callback caps wrk itself below
//     nginx's rate here); the ratios are taken within each round and their
//     median reported; a 1 s pass with a Lua script checks the statuses;
//   - the cold path (every request a never-seen license) against the
//     in-process RS256 verification rate measured in the same run;
//   - cluster mode (N workers against one process);
//   - 100,000 distinct licenses polling twice: peak RSS, cache hit rate;
//   - the hourly fleet: 100,000 licensees each polling once per pass at a
//     random instant of a window (the operator's hour, compressed), twice,
//     from our own client (bench/hourly-client.mjs): the second pass's
//     cache-hit ratio (all hits expected) and the server's peak RSS;
//   - rollouts: the warm poll of a channel with a rollout at 50 % against its
//     twin without one, on one server, in interleaved rounds (many licensees
//     rotating: bench/lua/rotate.lua), and the hourly fleet on a server with
//     the rollout against one without: throughput ratio, peak RSS ratio, the
//     share of answers that were the target, the spec cache's entries;
//   - upgrade paths: on one server (SQLite), three fleets of the same bytes
//     but the version, in interleaved rounds (bench/lua/rotate.lua): the
//     channel `steady` with no path (the reference); licensees of `stable`,
//     where a required release lies below the channel's release, that this
//     server already served the target (their poll takes the shared cached
//     answer: goal within 5 %); licensees of `stable` on the stepping stone
//     (served the old release before the channel moved: every poll reads
//     their installation, two indexed queries; its ratio is reported).
// Server and references run on CPU 0, wrk on CPU 1 (taskset), when possible.
// Prints a table and writes bench/results/latest.json. See docs/performance.md.
//
// Environment: BENCH_PAIR_SECONDS (4: each run of a round), BENCH_REPEAT (5: rounds),
// BENCH_SECONDS (10: cold, cluster), BENCH_WARMUP_SECONDS (2), BENCH_CONNECTIONS (64),
// BENCH_LICENSES (100000), BENCH_ONE_SUB_LICENSES (30000; 0 skips the one-licensee
// cold diagnostic), BENCH_VERIFY_SECONDS (3), BENCH_START_SAMPLES (3),
// BENCH_BARE=0 (skip the bare-fastify calibration), BENCH_COMPARE=DIR (another
// checkout, built, measured in the same rounds: an A/B), BENCH_NICE (-15 as root; 0 = off),
// BENCH_RATE_LIMITS=off (turn Chartroom's rate limits off instead of setting them sky-high),
// BENCH_CLUSTER_WORKERS (the number of CPUs; 0 skips the cluster-mode comparison),
// BENCH_STRICT=1 (exit 1 when a target is missed),
// BENCH_NO_BUILD=1 (do not run scripts/prepare.mjs --if-stale first),
// BENCH_SCENARIOS (a comma list of start, warm, cold, cluster, many, hourly, rollout, paths; default all:
// e.g. BENCH_SCENARIOS=hourly runs only the hourly fleet, which needs neither wrk nor nginx),
// BENCH_HOURLY_WINDOW_SECONDS (120: the window of one hourly-fleet pass), BENCH_HOURLY_CONNECTIONS (32),
// BENCH_ROLLOUT_LICENSES (100000, at most BENCH_LICENSES: licensees per channel in the rollout rounds),
// BENCH_PATH_LICENSES (5000: licensees in each of the upgrade-paths scenario's three fleets).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import {
  SPEC_PATH,
  basicHeader,
  benchDir,
  cleanupAll,
  ensureTools,
  get,
  installGuards,
  log,
  makeTempDir,
  memory,
  prepareKeys,
  cacheStats,
  PLAIN_CHANNEL,
  ROLLOUT_CHANNEL,
  ROLLOUT_RELEASES,
  setupRolloutChannels,
  PATH_RELEASES,
  adminCaller,
  benchRelease,
  probeStats,
  root,
  runMeasured,
  runWrk,
  runWrkPlain,
  startRawNode,
  settings,
  signLicenses,
  sleep,
  startBareFastify,
  startNginx,
  startServer,
  startCommand,
} from "./lib.mjs";

/** One arm of interleaved rounds: medians of its rounds' figures, and the sums of their errors. */
function armOf(rs) {
  return {
    rps: median(rs.map((r) => r.rps)),
    p50ms: median(rs.map((r) => r.p50ms)),
    p99ms: median(rs.map((r) => r.p99ms)),
    allRps: rs.map((r) => Math.round(r.rps)),
    bad: rs.reduce((a, r) => a + r.bad, 0),
    socketErrors: rs.reduce((a, r) => a + r.socketErrors, 0),
    cpuShare: median(rs.map((r) => r.cpuShare ?? NaN)),
  };
}

const TARGETS = {
  // issue #12: warm poll against raw node:http (Node's limit) and nginx, same run
  warmRatioRaw: 0.9,
  warmRatioNginx: 0.6,
  warmP99RatioRaw: 1.5,
  coldRatio: 0.7,
  rssBytes: 200 * 1024 * 1024,
  readyMs: 1500,
  // issue #15: with a rollout at 50 %, the warm poll within 10 % of its rate without one, and the memory within 10 %
  rolloutWarmRatio: 0.9,
  rolloutRssRatio: 1.1,
  // issue #16: on a channel where an upgrade path applies, the warm poll of licensees already served the target within 5 % of a channel without one
  pathsServedRatio: 0.95,
};

const MB = 1024 * 1024;
const fmtInt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");
const fmtMs = (n) => (Number.isFinite(n) ? `${n.toFixed(2)} ms` : "—");
const fmtRatio = (n) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : "—");
const fmtMB = (n) => (Number.isFinite(n) ? `${(n / MB).toFixed(0)} MB` : "—");
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = (s.length - 1) / 2;
  return (s[Math.floor(m)] + s[Math.ceil(m)]) / 2;
};

function summary(r) {
  if (!r) return null;
  const { wrkText: _omit, ...rest } = r;
  return rest;
}

async function main() {
  const startedAt = new Date();
  const limitMs = (10 * 60 + 10 * settings.seconds * settings.repeat + settings.licenses / 100 + 10 * settings.hourlyWindowSeconds) * 1000;
  installGuards(limitMs);

  const want = (name) => settings.scenarios.has(name);
  // wrk drives every scenario but the hourly fleet (its own client); nginx is a reference of the warm one only
  const tools = ensureTools({ needNginx: want("warm"), needWrk: [...settings.scenarios].some((x) => x !== "hourly") });
  if (!process.env.BENCH_NO_BUILD) {
    log("building dist (scripts/prepare.mjs --if-stale)");
    try {
      execFileSync(process.execPath, [join(root, "scripts/prepare.mjs"), "--if-stale"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] });
    } catch (err) {
      if (!existsSync(join(root, "dist/server.js"))) throw err;
      log(`WARNING: the build failed (${err.message.split("\n")[0]}); benchmarking the existing dist/`);
    }
  }
  if (!tools.pinned) log(`not pinning: ${tools.taskset ? `${tools.cpus} CPU(s)` : "taskset not found"}; server, nginx and wrk share the CPUs`);

  const tmp = makeTempDir();
  const keys = prepareKeys(tmp);
  const { loadSigningKey } = await import(pathToFileURL(join(root, "dist/licensing/license-keys.js")).href);
  const { signLicense } = await import(pathToFileURL(join(root, "dist/licensing/issue-license.js")).href);
  const signingKey = loadSigningKey(keys.keyFile);
  const now = Math.floor(Date.now() / 1000);
  const warmToken = signLicense(signingKey, { sub: "bench-warm", channel: "stable", jti: "bench-warm", exp: now + 7 * 86400, iat: now });
  const warmAuth = basicHeader(warmToken);

  const loadBefore = os.loadavg();
  const env = {
    node: process.version,
    nginx: want("warm") ? spawnSync(tools.nginx, ["-v"], { encoding: "utf8" }).stderr.trim() : "unused",
    wrk: tools.wrk === "unused" ? "unused" : (spawnSync(tools.wrk, ["-v"], { encoding: "utf8" }).stdout || "").split("\n")[0].trim(),
    scenarios: [...settings.scenarios],
    cpus: tools.cpus,
    cpuModel: os.cpus()[0]?.model,
    pinned: tools.pinned ? "server and nginx: taskset -c 0; wrk: taskset -c 1" : "no",
    nice: tools.nice,
    autogroup: tools.autogroup,
    loadavgAtStart: loadBefore,
    startCommand: (({ env: e, flags }) => [...Object.entries(e).map(([k, v]) => `${k}=${v}`), "node", ...flags, "dist/server.js"].join(" "))(startCommand()),
  };
  log(`${env.node}, ${env.nginx}, ${env.wrk}, ${env.cpus} CPUs, pinned: ${env.pinned}, nice ${env.nice}${env.autogroup ? " (own autogroups)" : ""}, load average ${loadBefore.map((l) => l.toFixed(2)).join(" ")}`);
  if (loadBefore[0] > tools.cpus * 0.5) log(`WARNING: the machine is busy (load average ${loadBefore[0].toFixed(2)} on ${tools.cpus} CPUs): absolute figures will be low and noisy; the ratios are measured side by side`);

  // ---- licenses: N distinct, signed with the server's RS256 key (CPU-heavy: done before any measurement)
  const N = settings.licenses;
  const needsLicenses = ["cold", "cluster", "many", "hourly", "rollout"].some(want);
  if (needsLicenses) log(`signing ${fmtInt(N)} distinct RS256 licenses in ${tools.cpus} worker threads…`);
  const tSign = performance.now();
  const tokens = needsLicenses ? await signLicenses({ keyFile: keys.keyFile, n: N, workers: tools.cpus }) : [];
  const signSeconds = (performance.now() - tSign) / 1000;
  if (needsLicenses) log(`signed in ${signSeconds.toFixed(1)} s (${fmtInt(N / signSeconds)}/s)`);
  const tokensFile = join(tmp, "tokens.txt");
  const headersFile = join(tmp, "authorization.txt");
  writeFileSync(tokensFile, tokens.join("\n") + "\n");
  writeFileSync(headersFile, tokens.map(basicHeader).join("\n") + "\n");
  // diagnostic: never-seen tokens that all belong to ONE licensee (same sub),
  // to tell the verification cost from the per-new-licensee cost (fleet record)
  const oneSubN = want("cold") ? settings.oneSubLicenses : 0;
  const oneSubFile = join(tmp, "authorization-one-sub.txt");
  if (oneSubN > 0) {
    const t = await signLicenses({ keyFile: keys.keyFile, n: oneSubN, prefix: "bench-one", sub: "bench-one-licensee", workers: tools.cpus });
    writeFileSync(oneSubFile, t.map(basicHeader).join("\n") + "\n");
  }
  const fixedLua = join(benchDir, "lua/fixed.lua");
  const tokensLua = join(benchDir, "lua/tokens.lua");

  const results = { startedAt: startedAt.toISOString(), settings, env, targets: TARGETS, scenarios: {} };
  const S = results.scenarios;

  let boots = [];
  if (want("start")) {
    // ---- start to ready (first boot: empty SQLite, migrations, sample channels loaded), then a restart
    boots = [];
    let restartMs;
    for (let i = 0; i < settings.startSamples; i++) {
      const dataDir = join(tmp, `start-${i}`);
      const s = await startServer({ tools, keys, dataDir, name: "start" });
      boots.push(s.readyMs);
      await s.stop();
      if (i === settings.startSamples - 1) {
        const again = await startServer({ tools, keys, dataDir, name: "restart" });
        restartMs = again.readyMs;
        await again.stop();
      }
    }
    S.startToReady = { firstBootMs: boots, medianMs: median(boots), maxMs: Math.max(...boots), restartMs };
    log(`start→ready, first boot: ${boots.map((b) => b.toFixed(0)).join(", ")} ms; restart: ${restartMs.toFixed(0)} ms`);
  }

  let body;
  if (want("warm")) {
    // ---- warm server + nginx with the exact bytes
    const warm = await startServer({ tools, keys, dataDir: join(tmp, "warm"), name: "warm" });
    const first = await get(warm.port, SPEC_PATH, { authorization: warmAuth });
    if (first.status !== 200) throw new Error(`the spec request answered ${first.status}: ${first.body.toString().slice(0, 300)}`);
    body = first.body;
    const etag = first.headers.etag;
    const nginx = await startNginx({ tools, dir: join(tmp, "nginx"), body });
    const viaNginx = await get(nginx.port, SPEC_PATH, { authorization: warmAuth });
    if (viaNginx.status !== 200 || !viaNginx.body.equals(body)) throw new Error("nginx does not serve the exact bytes of the spec");
    const nginxEtag = viaNginx.headers.etag;
    const c304 = await get(warm.port, SPEC_PATH, { authorization: warmAuth, "if-none-match": etag });
    const n304 = await get(nginx.port, SPEC_PATH, { "if-none-match": nginxEtag });
    if (c304.status !== 304 || n304.status !== 304) throw new Error(`If-None-Match did not give 304 (Chartroom ${c304.status}, nginx ${n304.status})`);
    results.spec = { bytes: body.length, etag, nginxEtag, byteEqualThroughNginx: true, chartroomHeaders: first.headers, nginxHeaders: viaNginx.headers };
    log(`spec: ${body.length} bytes, ETag ${etag}; nginx serves the same bytes`);

    // the same headers Chartroom answered with, for the raw node:http reference
    // (Node adds date, connection and keep-alive itself; the request id is per request)
    const own = (raw) => {
      const out = [];
      for (let i = 0; i < raw.length; i += 2) if (!["date", "connection", "keep-alive", "x-request-id", "transfer-encoding"].includes(raw[i].toLowerCase())) out.push(raw[i], raw[i + 1]);
      return out;
    };
    const raw = await startRawNode({ tools, dir: join(tmp, "raw"), body, headers: { ok: own(first.rawHeaders), notModified: own(c304.rawHeaders), etag } });
    const viaRaw = await get(raw.port, SPEC_PATH, { authorization: warmAuth });
    if (viaRaw.status !== 200 || !viaRaw.body.equals(body)) throw new Error("raw node does not serve the exact bytes of the spec");
    results.spec.rawNodeHeaders = viaRaw.headers;

    // calibration: bare fastify with the same pre-serialized body (what fastify alone costs here)
    const bare = settings.bare ? await startBareFastify({ tools, dir: join(tmp, "bare"), body, etag }) : undefined;
    // A/B: another checkout's build, measured in the same rounds (BENCH_COMPARE=DIR)
    const other = settings.compare ? await startServer({ tools, keys, dataDir: join(tmp, "compare"), name: "compare", build: settings.compare }) : undefined;
    // Its own ETag for its 304 rounds: its spec's releasedAt is its own first boot, so its bytes differ.
    let otherEtag;
    if (other) {
      const o = await get(other.port, SPEC_PATH, { authorization: warmAuth });
      if (o.status !== 200) throw new Error(`the compared build answered ${o.status}`);
      otherEtag = o.headers.etag;
      log(`comparing with ${settings.compare} (its spec: ${o.body.length} bytes${o.body.equals(body) ? ", identical" : ", DIFFERENT bytes"})`);
      // What an A/B of signed answers needs to know (docs/performance.md, Signed answers).
      const signs = (h) => (h["x-chartroom-signature"] ? `signs (${h["x-chartroom-signature"].length}-character X-Chartroom-Signature)` : "sends no X-Chartroom-Signature");
      log(`this build ${signs(first.headers)}; the compared build ${signs(o.headers)}`);
    }

    const plain = (port, cpuPids, server) => (headers, seconds) => runWrkPlain({ tools, port, headers, seconds, cpuPids, server });
    const check = (port, server) => (args) => runWrk({ tools, port, script: fixedLua, args, seconds: 1, server });
    const contenders = {
      c: { label: "Chartroom     ", port: warm.port, run: plain(warm.port, [warm.pid], warm), check: check(warm.port, warm) },
      n: { label: "nginx         ", port: nginx.port, run: plain(nginx.port, nginx.workers()), check: check(nginx.port) },
      r: { label: "raw node:http ", port: raw.port, run: plain(raw.port, [raw.pid]), check: check(raw.port) },
      ...(bare ? { b: { label: "bare fastify  ", run: plain(bare.port, [bare.pid]), check: check(bare.port) } } : {}),
      ...(other ? { x: { label: "compared build", run: plain(other.port, [other.pid], other), check: check(other.port, other) } } : {}),
    };
    const who = Object.keys(contenders);

    if (settings.warmupSeconds > 0) {
      log(`warm-up ${settings.warmupSeconds} s each`);
      for (const k of who) await contenders[k].run({ authorization: warmAuth }, settings.warmupSeconds);
    }

    /**
     * One scenario as interleaved rounds: in each round every contender runs
     * once (the order rotates, so a drift in the machine's speed hits all
     * alike), and Chartroom's ratio to each reference is taken within the
     * round. Reported: the median of the per-round ratios, and each
     * contender's median req/s and p99. Before the rounds, a 1 s pass with the
     * Lua script checks that every answer has the expected status.
     */
    async function rounds(name, headersOf, expected) {
      const checks = {};
      for (const k of who) {
        const h = headersOf(k);
        const c = await contenders[k].check([h.authorization ?? "-", h["if-none-match"] ?? "-", String(expected)]);
        checks[k] = { ok: c.ok, bad: c.bad, badStatuses: c.badStatuses };
        if (c.bad > 0) log(`WARNING: ${name} ${contenders[k].label}: ${c.bad} of ${c.ok + c.bad} answers were not ${expected} (${c.badStatuses})`);
      }
      const runs = Object.fromEntries(who.map((k) => [k, []]));
      for (let i = 0; i < settings.repeat; i++) {
        const order = who.map((_, j) => who[(i + j) % who.length]);
        for (const k of order) {
          const r = await contenders[k].run(headersOf(k), settings.pairSeconds);
          runs[k].push(r);
          log(`${name} round ${i + 1} ${contenders[k].label}: ${fmtInt(r.rps)} req/s, p50 ${fmtMs(r.p50ms)}, p99 ${fmtMs(r.p99ms)}, non-2xx/3xx ${r.bad}, socket errors ${r.socketErrors}, CPU ${r.cpuShare?.toFixed(2)} core`);
        }
      }
      const perRound = (k, f) => runs.c.map((c, i) => f(c, runs[k][i]));
      const out = { expected, checks, rounds: settings.repeat, seconds: settings.pairSeconds };
      for (const k of who) {
        const rs = runs[k];
        out[k] = {
          rps: median(rs.map((r) => r.rps)),
          p50ms: median(rs.map((r) => r.p50ms)),
          p99ms: median(rs.map((r) => r.p99ms)),
          allRps: rs.map((r) => Math.round(r.rps)),
          allP99ms: rs.map((r) => r.p99ms),
          bad: rs.reduce((a, r) => a + r.bad, 0) + checks[k].bad,
          socketErrors: rs.reduce((a, r) => a + r.socketErrors, 0),
          cpuShare: median(rs.map((r) => r.cpuShare ?? NaN)),
        };
      }
      out.ratioNginx = median(perRound("n", (c, n) => c.rps / n.rps));
      out.ratioRaw = median(perRound("r", (c, r) => c.rps / r.rps));
      out.p99RatioRaw = median(perRound("r", (c, r) => c.p99ms / r.p99ms));
      out.rawToNginx = median(runs.r.map((r, i) => r.rps / runs.n[i].rps));
      if (bare) out.bareRatioRaw = median(runs.b.map((b, i) => b.rps / runs.r[i].rps));
      if (other) out.compareRatio = median(runs.x.map((x, i) => x.rps / runs.c[i].rps));
      if (other) out.allRatiosCompare = runs.x.map((x, i) => +(x.rps / runs.c[i].rps).toFixed(3));
      out.allRatiosRaw = perRound("r", (c, r) => +(c.rps / r.rps).toFixed(3));
      out.allRatiosNginx = perRound("n", (c, n) => +(c.rps / n.rps).toFixed(3));
      out.wrkText = { chartroom: runs.c.at(-1).wrkText, nginx: runs.n.at(-1).wrkText, rawNode: runs.r.at(-1).wrkText };
      return out;
    }

    S.warm = await rounds("warm 200", () => ({ authorization: warmAuth }), 200);
    S.notModified = await rounds("304     ", (k) => ({ authorization: warmAuth, "if-none-match": k === "n" ? nginxEtag : k === "x" ? otherEtag : etag }), 304);
    if (bare) await bare.stop();
    if (other) await other.stop();
    results.warmServer = { peakRssBytes: memory(warm.pid).hwm };
    await raw.stop();
    await nginx.stop();
    await warm.stop();
  }

  const probe = ["--import", pathToFileURL(join(benchDir, "probe.mjs")).href];
  let verify;
  if (want("cold") || want("cluster")) {
    // ---- in-process verification rate (same tokens, pinned like the server)
    log(`in-process RS256 verify rate (${settings.verifySeconds} s per level)…`);
    const vr = await runMeasured([...tools.serverPrefix, process.execPath, join(benchDir, "verify-rate.mjs"), keys.keyFile, tokensFile, String(settings.verifySeconds)], {
      timeoutMs: (settings.verifySeconds * 3 + 60) * 1000,
    });
    verify = JSON.parse(vr.trim().split("\n").at(-1));
    log(`verify/s: crypto ${fmtInt(verify.crypto.perSecond)}, fast-jwt ${fmtInt(verify.fastjwt.perSecond)}, LicenseVerifier ${fmtInt(verify.chartroom.perSecond)}`);
  }

  if (want("cold")) {
    // ---- cold path: a fresh server, every request a never-seen license
    const coldStats = join(tmp, "cold-stats.json");
    const cold = await startServer({ tools, keys, dataDir: join(tmp, "cold"), nodeArgs: probe, extraEnv: { BENCH_STATS_FILE: coldStats }, name: "cold" });
    if (settings.warmupSeconds > 0) await runWrk({ tools, port: cold.port, script: fixedLua, args: [warmAuth, "-", "200"], seconds: settings.warmupSeconds, server: cold });
    const coldBefore = await cacheStats(cold, coldStats);
    const cr = await runWrk({ tools, port: cold.port, script: tokensLua, args: [headersFile, "1", String(N), "200"], seconds: settings.seconds, cpuPids: [cold.pid], server: cold });
    const coldAfter = await cacheStats(cold, coldStats);
    const coldMisses = coldAfter.misses - coldBefore.misses;
    const coldHits = coldAfter.hits - coldBefore.hits;
    log(`cold     Chartroom: ${fmtInt(cr.rps)} req/s over ${cr.seconds.toFixed(1)} s, p50 ${fmtMs(cr.p50ms)}, p99 ${fmtMs(cr.p99ms)}, bad ${cr.bad}, verifier misses ${coldMisses}, hits ${coldHits}, CPU ${cr.cpuShare?.toFixed(2)} core`);
    S.cold = {
      chartroom: summary(cr),
      verifyRate: verify,
      reference: "fastjwt",
      ratio: cr.rps / verify.fastjwt.perSecond,
      ratioToCrypto: cr.rps / verify.crypto.perSecond,
      ratioToLicenseVerifier: cr.rps / verify.chartroom.perSecond,
      verifier: { misses: coldMisses, hits: coldHits, source: coldAfter.source },
      exhaustedLicenses: cr.seconds < settings.seconds - 0.5,
      wrkText: cr.wrkText,
    };
    await cold.stop();

    if (oneSubN > 0) {
      const one = await startServer({ tools, keys, dataDir: join(tmp, "cold-one"), nodeArgs: probe, extraEnv: { BENCH_STATS_FILE: coldStats }, name: "cold-one" });
      if (settings.warmupSeconds > 0) await runWrk({ tools, port: one.port, script: fixedLua, args: [warmAuth, "-", "200"], seconds: settings.warmupSeconds, server: one });
      const r = await runWrk({ tools, port: one.port, script: tokensLua, args: [oneSubFile, "1", String(oneSubN), "200"], seconds: settings.seconds, cpuPids: [one.pid], server: one });
      log(`cold, one licensee: ${fmtInt(r.rps)} req/s over ${r.seconds.toFixed(1)} s, p50 ${fmtMs(r.p50ms)}, p99 ${fmtMs(r.p99ms)}, bad ${r.bad}, CPU ${r.cpuShare?.toFixed(2)} core`);
      S.coldOneLicensee = { chartroom: summary(r), ratio: r.rps / verify.fastjwt.perSecond, exhaustedLicenses: r.seconds < settings.seconds - 0.5 };
      await one.stop();
    }
  }

  // ---- cluster mode (optional in the issue): CHARTROOM_WORKERS=N against one
  // process, nothing pinned (the workers and wrk share every CPU, so with two
  // CPUs the load generator takes a share of what the workers could use)
  const CW = settings.clusterWorkers;
  if (want("cluster") && CW >= 2 && tools.cpus >= 2) {
    // the same priority, without `taskset -c 0` / `-c 1`
    const prefix = tools.pinned ? tools.serverPrefix.slice(0, -3) : tools.serverPrefix;
    const unpinned = { ...tools, serverPrefix: prefix, loadPrefix: prefix, pinned: false };
    const cl = {};
    for (const workers of [1, CW]) {
      const s = await startServer({ tools: unpinned, keys, dataDir: join(tmp, `cluster-${workers}`), extraEnv: { CHARTROOM_WORKERS: String(workers) }, name: `cluster-${workers}` });
      // the first worker is ready first and the others start after it: wait
      // until answers come from N processes (request ids carry a per-process prefix)
      const seen = new Set();
      for (const until = performance.now() + 30_000; seen.size < workers && performance.now() < until; ) {
        const r = await get(s.port, "/readyz").catch(() => null);
        if (r?.status === 200) seen.add(String(r.headers["x-request-id"]).split("-")[0]);
        else await sleep(20);
      }
      if (seen.size < workers) log(`WARNING: only ${seen.size} of ${workers} workers answered within 30 s`);
      if (settings.warmupSeconds > 0) await runWrk({ tools: unpinned, port: s.port, script: fixedLua, args: [warmAuth, "-", "200"], seconds: settings.warmupSeconds, server: s });
      const w = await runWrkPlain({ tools: unpinned, port: s.port, headers: { authorization: warmAuth }, seconds: settings.seconds, server: s });
      const c = await runWrk({ tools: unpinned, port: s.port, script: tokensLua, args: [headersFile, "1", String(N), "200"], seconds: settings.seconds, server: s });
      cl[workers] = { warm: summary(w), cold: summary(c), readyMs: s.readyMs };
      log(`cluster, ${workers} worker(s), unpinned: warm ${fmtInt(w.rps)} req/s (p99 ${fmtMs(w.p99ms)}, bad ${w.bad}), cold ${fmtInt(c.rps)} req/s (p99 ${fmtMs(c.p99ms)}, bad ${c.bad})`);
      await s.stop(8000);
    }
    S.cluster = { workers: CW, one: cl[1], many: cl[CW], warmGain: cl[CW].warm.rps / cl[1].warm.rps, coldGain: cl[CW].cold.rps / cl[1].cold.rps, coldRatio: cl[CW].cold.rps / verify.fastjwt.perSecond };
  }

  let stEnd;
  if (want("many")) {
    // ---- N distinct licenses polling twice, on a fresh server
    const bigStats = join(tmp, "big-stats.json");
    const big = await startServer({ tools, keys, dataDir: join(tmp, "big"), nodeArgs: probe, extraEnv: { BENCH_STATS_FILE: bigStats }, name: "big" });
    const mem0 = memory(big.pid);
    const st0 = await cacheStats(big, bigStats);
    // each pass ends when every license has been sent once; this is only a cap
    const passSeconds = Math.max(300, Math.ceil(N / 200));
    const passes = [];
    const stats = [st0];
    for (const pass of [1, 2]) {
      const r = await runWrk({ tools, port: big.port, script: tokensLua, args: [headersFile, "1", String(N), "200"], seconds: passSeconds, cpuPids: [big.pid], server: big });
      stats.push(await cacheStats(big, bigStats));
      const d = { hits: stats[pass].hits - stats[pass - 1].hits, misses: stats[pass].misses - stats[pass - 1].misses };
      const mem = memory(big.pid);
      const complete = r.seconds < passSeconds - 1; // the script ran out of licenses (rather than out of time)
      if (!complete) log(`WARNING: pass ${pass} hit the ${passSeconds} s cap before every license was sent`);
      passes.push({ pass, complete, ...summary(r), verifier: { ...d, hitRate: d.hits / (d.hits + d.misses), cacheSize: stats[pass].size, cacheMax: stats[pass].max, source: stats[pass].source }, rssBytes: mem.rss, peakRssBytes: mem.hwm });
      log(`${fmtInt(N)} licenses pass ${pass}: ${fmtInt(r.rps)} req/s over ${r.seconds.toFixed(1)} s, p50 ${fmtMs(r.p50ms)}, p99 ${fmtMs(r.p99ms)}, bad ${r.bad}, hits ${d.hits}, misses ${d.misses}, RSS ${fmtMB(mem.rss)} (peak ${fmtMB(mem.hwm)})`);
    }
    // the fleet recorder flushes every 5 s: let one flush of all these licensees happen, then read the peak again
    await sleep(7000);
    const memEnd = memory(big.pid);
    stEnd = stats.at(-1);
    const probeEnd = await probeStats(big, bigStats).catch(() => null);
    S.manyLicenses = {
      licenses: N,
      rssAfterStartBytes: mem0.rss,
      memoryUsageEnd: probeEnd?.memory ?? null,
      heapSpacesEnd: probeEnd?.heapSpaces ?? null,
      rssPerLicenseBytesPass1: (passes[0].rssBytes - mem0.rss) / N,
      passes,
      rssAfterIdleBytes: memEnd.rss,
      peakRssBytes: Math.max(memEnd.hwm, ...passes.map((p) => p.peakRssBytes)),
      hitRateSecondPass: passes[1].verifier.hitRate,
      hitRateMethod:
        stats.every((x) => x.source === "GET /metrics")
          ? "license cache counters read from the server's GET /metrics before and after each pass: hits = Δchartroom_license_cache_hits_total, misses = Δchartroom_license_verifications_total{outcome=\"ok\"} − hits. Cross-check: pass 2 req/s vs pass 1."
          : `hits/misses read before and after each pass (sources: ${stats.map((x) => x.source).join(", ")}; bench/probe.mjs is a --import preload that captures the LicenseVerifier and reports verifier.stats()). Cross-check: pass 2 req/s vs pass 1.`,
      licenseCache: { size: stEnd.size, max: stEnd.max },
      specCache: { size: stEnd.specSize, max: stEnd.specMax },
    };
    await big.stop();
  }

  // ---- the hourly fleet: N licensees, each polling once per pass at a random
  // instant of a window (an hour of reconcileFrequency: 1h, compressed), twice,
  // on a fresh server; our own client (bench/hourly-client.mjs) on CPU 1
  /**
   * Two hourly-fleet passes of every license in `file` against a started
   * server: its memory after start, after each pass and after the fleet
   * recorder's flush, and the license (and spec) cache counters around
   * each pass.
   */
  async function hourlyPasses(hs, statsFile, file, label) {
    const mem0 = memory(hs.pid);
    const stats = [await cacheStats(hs, statsFile)];
    const passes = [];
    const windowSeconds = settings.hourlyWindowSeconds;
    for (const pass of [1, 2]) {
      log(`${label} pass ${pass}: ${fmtInt(N)} licensees, each once at a random instant of ${windowSeconds} s, ${settings.hourlyConnections} connections…`);
      const argv = [...tools.loadPrefix, process.execPath, join(benchDir, "hourly-client.mjs"), String(hs.port), file, String(windowSeconds), String(settings.hourlyConnections), String(pass * 7919)];
      const r = JSON.parse((await runMeasured(argv, { timeoutMs: (windowSeconds * 5 + 600) * 1000 })).trim().split("\n").at(-1));
      stats.push(await cacheStats(hs, statsFile));
      const d = { hits: stats[pass].hits - stats[pass - 1].hits, misses: stats[pass].misses - stats[pass - 1].misses };
      const mem = memory(hs.pid);
      const ok = r.statuses["200"] ?? 0;
      passes.push({ pass, ...r, bad: r.sent - ok, verifier: { ...d, hitRate: d.hits / (d.hits + d.misses), cacheSize: stats[pass].size, cacheMax: stats[pass].max, source: stats[pass].source }, specCache: { size: stats[pass].specSize, max: stats[pass].specMax }, rssBytes: mem.rss, peakRssBytes: mem.hwm });
      log(`${label} pass ${pass}: ${r.seconds.toFixed(1)} s (window ${windowSeconds} s, latest start ${fmtMs(r.maxLateMs)} late), ${fmtInt(r.rps)} req/s, p50 ${fmtMs(r.p50ms)}, p99 ${fmtMs(r.p99ms)}, statuses ${JSON.stringify(r.statuses)}, errors ${r.errors}, hits ${d.hits}, misses ${d.misses}, spec cache ${stats[pass].specSize} entries, RSS ${fmtMB(mem.rss)} (peak ${fmtMB(mem.hwm)})`);
    }
    // let the fleet recorder flush every licensee (every 5 s), then read the peak again
    await sleep(7000);
    const memEnd = memory(hs.pid);
    return {
      licenses: N,
      windowSeconds,
      connections: settings.hourlyConnections,
      rssAfterStartBytes: mem0.rss,
      passes,
      rssAfterIdleBytes: memEnd.rss,
      peakRssBytes: Math.max(memEnd.hwm, ...passes.map((p) => p.peakRssBytes)),
      hitRateSecondPass: passes[1].verifier.hitRate,
      method: `each of ${fmtInt(N)} distinct licenses sent exactly once per pass at a uniformly random instant of the window (seeded), in time order over ${settings.hourlyConnections} keep-alive sockets; hits/misses from ${stats.map((x) => x.source)[0]} before and after each pass; peak RSS = the server's VmHWM`,
    };
  }

  // ---- the hourly fleet: N licensees, each polling once per pass at a random
  // instant of a window (an hour of reconcileFrequency: 1h, compressed), twice,
  // on a fresh server; our own client (bench/hourly-client.mjs) on CPU 1
  if (want("hourly")) {
    const hourlyStats = join(tmp, "hourly-stats.json");
    const hs = await startServer({ tools, keys, dataDir: join(tmp, "hourly"), nodeArgs: probe, extraEnv: { BENCH_STATS_FILE: hourlyStats }, name: "hourly" });
    S.hourlyFleet = await hourlyPasses(hs, hourlyStats, headersFile, "hourly fleet");
    await hs.stop();
  }

  // ---- rollouts (issue 15): a channel with a rollout at 50 % against its
  // twin without one (same values, same release bytes but the version), on
  // the same server, in interleaved rounds; then the hourly fleet on a fresh
  // server with the rollout and on one without it: peak RSS of each
  if (want("rollout")) {
    const R = settings.rolloutLicenses;
    log(`signing ${fmtInt(R)} licenses of channel ${PLAIN_CHANNEL} (the twin without a rollout)…`);
    const plainTokens = await signLicenses({ keyFile: keys.keyFile, n: R, prefix: "bench-steady", channel: PLAIN_CHANNEL, workers: tools.cpus });
    const plainFile = join(tmp, "authorization-steady.txt");
    const rolloutFile = join(tmp, "authorization-stable-rollout.txt");
    writeFileSync(plainFile, plainTokens.map(basicHeader).join("\n") + "\n");
    writeFileSync(rolloutFile, tokens.slice(0, R).map(basicHeader).join("\n") + "\n");
    const rotateLua = join(benchDir, "lua/rotate.lua");

    // (a) throughput: one server, both channels; the license cache holds both
    // fleets. With BENCH_COMPARE, the other build's server the same way, in the same rounds.
    const capSeconds = Math.max(300, Math.ceil(R / 200));
    async function rolloutServer(name, build) {
      const srv = await startServer({ tools, keys, dataDir: join(tmp, name), extraEnv: { LICENSE_CACHE_SIZE: String(2 * R + 1000) }, name, build });
      const { started, call } = await setupRolloutChannels(srv, keys, { rollout: true });
      log(`${name}: rollout ${started.id} of ${ROLLOUT_CHANNEL} to ${started.release.version} at ${started.percent} % (channel at ${started.previous.version}, salt ${started.salt}); ${PLAIN_CHANNEL} at ${ROLLOUT_RELEASES[0]} without a rollout`);
      // the two answers of the rollout channel, from GET /resolve (the subs of the stable tokens are bench-<i>)
      const etags = {};
      for (let i = 0; i < 200 && Object.keys(etags).length < 2; i++) {
        const r = await call("GET", `/resolve?sub=bench-${i}&channel=${ROLLOUT_CHANNEL}`, undefined, [200]);
        etags[r.release.version] ??= r.etag;
      }
      const targetEtag = etags[ROLLOUT_RELEASES[1]];
      if (!targetEtag || !etags[ROLLOUT_RELEASES[0]]) throw new Error(`no licensee on one side of the cohort among the first 200: ${JSON.stringify(etags)}`);
      // every license once (verified, cached, the renderings confirmed), counting the target's answers
      const first = {};
      for (const [k, file, etag] of [["plain", plainFile, undefined], ["rollout", rolloutFile, targetEtag]]) {
        const r = await runWrk({ tools, port: srv.port, script: tokensLua, args: [file, "1", String(R), "200", ...(etag ? [etag] : [])], seconds: capSeconds, cpuPids: [srv.pid], server: srv });
        first[k] = summary(r);
        log(`${name}: every ${k} license once: ${fmtInt(r.rps)} req/s, ${r.ok} × 200, bad ${r.bad}${etag ? `, target ${r.target} (${((100 * r.target) / r.ok).toFixed(2)} %)` : ""}`);
      }
      return { name, srv, started, call, first };
    }
    const servers = [await rolloutServer("rollout", root), ...(settings.compare ? [await rolloutServer("rollout-compare", settings.compare)] : [])];
    const { started } = servers[0];
    // the expected share, computed here with the contract's formula (dist/domain/cohort.js)
    const { cohortMembership } = await import(pathToFileURL(join(root, "dist/domain/cohort.js")).href);
    const cohort = { percent: started.percent, include: [], exclude: [], salt: started.salt };
    let expectedIn = 0;
    for (let i = 0; i < R; i++) if (cohortMembership(cohort, `bench-${i}`).in) expectedIn++;

    const files = { plain: plainFile, rollout: rolloutFile };
    const label = (x, k) => `${x.name === "rollout" ? "" : "compared build: "}${k === "plain" ? `${PLAIN_CHANNEL} (no rollout)` : `${ROLLOUT_CHANNEL} (rollout 50 %)`}`;
    const run = (x, k, seconds, i) => runWrkPlain({ tools, port: x.srv.port, seconds, cpuPids: [x.srv.pid], server: x.srv, script: rotateLua, args: [files[k], String(((i * 37_919) % R) + 1)] });
    if (settings.warmupSeconds > 0) for (const x of servers) for (const k of ["plain", "rollout"]) await run(x, k, settings.warmupSeconds, 0);
    // each round: every (server, channel) once; the order rotates from round to round
    const slots = servers.flatMap((x) => ["plain", "rollout"].map((k) => ({ x, k })));
    const runs = new Map(slots.map((sl) => [sl, []]));
    for (let i = 0; i < settings.repeat; i++) {
      for (let j = 0; j < slots.length; j++) {
        const sl = slots[(i + j) % slots.length];
        const r = await run(sl.x, sl.k, settings.pairSeconds, i + 1);
        runs.get(sl).push(r);
        log(`rollout round ${i + 1} ${label(sl.x, sl.k).padEnd(42)}: ${fmtInt(r.rps)} req/s, p50 ${fmtMs(r.p50ms)}, p99 ${fmtMs(r.p99ms)}, non-2xx/3xx ${r.bad}, socket errors ${r.socketErrors}, CPU ${r.cpuShare?.toFixed(2)} core`);
      }
    }
    const perServer = [];
    for (const x of servers) {
      const [plainRuns, rolloutRuns] = slots.filter((sl) => sl.x === x).map((sl) => runs.get(sl));
      const ratios = rolloutRuns.map((r, i) => r.rps / plainRuns[i].rps);
      const st = await cacheStats(x.srv, join(tmp, `${x.name}-stats.json`));
      const view = await x.call("GET", `/channels/${ROLLOUT_CHANNEL}/rollout`, undefined, [200]);
      perServer.push({
        name: x.name,
        plain: armOf(plainRuns),
        rollout: armOf(rolloutRuns),
        ratio: median(ratios),
        allRatios: ratios.map((v) => +v.toFixed(3)),
        p99Ratio: median(rolloutRuns.map((r, i) => r.p99ms / plainRuns[i].p99ms)),
        firstPass: x.first,
        targetShare: x.first.rollout.target / x.first.rollout.ok,
        specCacheEntries: st.specSize,
        rolloutCounts: view.counts,
        plainRuns,
        rolloutRuns,
      });
      log(`${x.name}: rollout / no rollout ${fmtRatio(median(ratios))} (rounds ${ratios.map((v) => v.toFixed(2)).join(", ")}); target answers ${((100 * x.first.rollout.target) / x.first.rollout.ok).toFixed(2)} %; spec cache ${st.specSize} entries`);
      await x.srv.stop();
    }
    const [me, other] = perServer;
    const warm = {
      licensesPerChannel: R,
      rounds: settings.repeat,
      seconds: settings.pairSeconds,
      ...me,
      expectedShare: expectedIn / R,
      ...(other
        ? {
            compare: {
              build: settings.compare,
              ratio: other.ratio,
              allRatios: other.allRatios,
              plain: other.plain,
              rollout: other.rollout,
              // this build's rollout channel against the other's, within each round
              rolloutAB: median(me.rolloutRuns.map((r, i) => r.rps / other.rolloutRuns[i].rps)),
              plainAB: median(me.plainRuns.map((r, i) => r.rps / other.plainRuns[i].rps)),
              specCacheEntries: other.specCacheEntries,
              targetShare: other.targetShare,
            },
          }
        : {}),
      method: `one server, channels ${ROLLOUT_CHANNEL} (a rollout at ${started.percent} % from ${ROLLOUT_RELEASES[0]} to ${ROLLOUT_RELEASES[1]}) and ${PLAIN_CHANNEL} (at ${ROLLOUT_RELEASES[0]}, no rollout), ${fmtInt(R)} licensees each; every license sent once first (bench/lua/tokens.lua, counting the target's ETag); then ${settings.repeat} interleaved rounds of ${settings.pairSeconds} s per channel${other ? " and per build" : ""} (order rotating), wrk -t1 -c${settings.connections} with bench/lua/rotate.lua (a request() callback only, no response()) rotating the ${fmtInt(R)} Authorization headers; ratio = median of the per-round ratios rollout / no rollout`,
    };
    delete warm.plainRuns;
    delete warm.rolloutRuns;
    if (other) log(`A/B with ${settings.compare}: its rollout / no rollout ${fmtRatio(other.ratio)} (rounds ${other.allRatios.join(", ")}); this build's rollout channel ${fmtRatio(warm.compare.rolloutAB)} the other's, plain channel ${fmtRatio(warm.compare.plainAB)}`);

    // (b) memory: the hourly fleet (the N stable licensees) on a fresh server without the rollout, then one with it
    const memoryRuns = {};
    for (const [k, withRollout] of [["plain", false], ["rollout", true]]) {
      const statsFile = join(tmp, `rollout-${k}-stats.json`);
      const hs = await startServer({ tools, keys, dataDir: join(tmp, `rollout-${k}`), nodeArgs: probe, extraEnv: { BENCH_STATS_FILE: statsFile }, name: `rollout-${k}` });
      const set = await setupRolloutChannels(hs, keys, { rollout: withRollout });
      const h = await hourlyPasses(hs, statsFile, headersFile, `hourly fleet on ${ROLLOUT_CHANNEL} ${withRollout ? "with" : "without"} the rollout`);
      if (withRollout) h.rolloutCounts = (await set.call("GET", `/channels/${ROLLOUT_CHANNEL}/rollout`, undefined, [200])).counts;
      memoryRuns[k] = h;
      await hs.stop();
    }
    S.rollout = {
      warm,
      memory: {
        plain: memoryRuns.plain,
        rollout: memoryRuns.rollout,
        peakRatio: memoryRuns.rollout.peakRssBytes / memoryRuns.plain.peakRssBytes,
        specCacheEntries: { plain: memoryRuns.plain.passes.at(-1).specCache.size, rollout: memoryRuns.rollout.passes.at(-1).specCache.size },
      },
    };
  }

  // ---- upgrade paths (issue 16): on one server, three fleets polling the
  // same bytes but the version: `steady` with no path (the reference),
  // licensees of `stable` (where a required release lies below the channel's
  // release) this server already served the target, and licensees of
  // `stable` on the stepping stone (their installation is read at every poll)
  if (want("paths")) {
    const P = settings.pathLicenses;
    const [oldV, stoneV, targetV] = PATH_RELEASES;
    log(`signing 4 × ${fmtInt(P)} licenses for the upgrade-paths scenario…`);
    const fleets = {
      plain: { channel: PLAIN_CHANNEL, prefix: "bench-path-plain", label: `${PLAIN_CHANNEL}: no path (reference)` },
      served: { channel: ROLLOUT_CHANNEL, prefix: "bench-path-served", label: `${ROLLOUT_CHANNEL}: path applies, served the target` },
      stone: { channel: ROLLOUT_CHANNEL, prefix: "bench-path-stone", label: `${ROLLOUT_CHANNEL}: on the stepping stone (reads)` },
      // served the target once, then quiet until the fleet recorder forgets them (a minute after its write): an hourly poller
      quiet: { channel: ROLLOUT_CHANNEL, prefix: "bench-path-quiet", label: `${ROLLOUT_CHANNEL}: served the target, then quiet` },
    };
    for (const [k, f] of Object.entries(fleets)) {
      const t = await signLicenses({ keyFile: keys.keyFile, n: P, prefix: f.prefix, channel: f.channel, workers: tools.cpus });
      f.file = join(tmp, `authorization-path-${k}.txt`);
      writeFileSync(f.file, t.map(basicHeader).join("\n") + "\n");
    }
    const srv = await startServer({ tools, keys, dataDir: join(tmp, "paths"), name: "paths" });
    const call = await adminCaller(srv, keys);
    const capSeconds = Math.max(300, Math.ceil(P / 100));
    const once = async (k, etag) => {
      const r = await runWrk({ tools, port: srv.port, script: tokensLua, args: [fleets[k].file, "1", String(P), "200", ...(etag ? [etag] : [])], seconds: capSeconds, cpuPids: [srv.pid], server: srv });
      log(`paths: every ${k} license once: ${fmtInt(r.rps)} req/s, ${r.ok} × 200, bad ${r.bad}${etag ? `, ${r.target} with the expected ETag` : ""}`);
      return summary(r);
    };
    // 1. the releases, `steady` with the values of `stable`, both at the old release
    const stable = await call("GET", `/channels/${ROLLOUT_CHANNEL}`, undefined, [200]);
    await call("POST", "/channels", { name: PLAIN_CHANNEL, description: stable.description, defaultValues: stable.defaultValues }, [201]);
    for (const v of PATH_RELEASES) await call("POST", "/releases", benchRelease(v), [201]);
    // `stable` takes only beta's current release, beta only unstable's (channels/*.yaml): each release goes up the chain
    const promote = async (c, v) => {
      if (c === ROLLOUT_CHANNEL) for (const up of ["unstable", "beta"]) await call("POST", `/channels/${up}/promote`, { release: v, reason: "bench" }, [200, 201]);
      await call("POST", `/channels/${c}/promote`, { release: v, reason: "bench" }, [200, 201]);
    };
    for (const c of [ROLLOUT_CHANNEL, PLAIN_CHANNEL]) await promote(c, oldV);
    // 2. the stepping-stone fleet is served the old release once, and the fleet recorder writes it (every 5 s)
    // (twice: tokens.lua stops with the last few requests in flight, so one pass may leave a few licenses unsent)
    const setup = { stoneAtOld: [await once("stone"), await once("stone")] };
    await sleep(7000);
    // 3. `steady` straight to the target (the stone never on it: no path);
    // `stable` through the stone, marked required, to the target
    await promote(PLAIN_CHANNEL, targetV);
    await promote(ROLLOUT_CHANNEL, stoneV);
    await call("POST", `/releases/${stoneV}/required`, { required: true, reason: "bench stepping stone" }, [200]);
    await promote(ROLLOUT_CHANNEL, targetV);
    const resolve = (sub, channel) => call("GET", `/resolve?sub=${sub}&channel=${channel}`, undefined, [200]);
    const before = { stone: await resolve("bench-path-stone-2500", ROLLOUT_CHANNEL), served: await resolve("bench-path-served-2500", ROLLOUT_CHANNEL), plain: await resolve("bench-path-plain-2500", PLAIN_CHANNEL) };
    log(`paths: /resolve before the rounds: stone licensee ${before.stone.release.version} (${before.stone.path?.state}: ${before.stone.path?.text}); served-target licensee ${before.served.release.version} (${before.served.path?.state}); ${PLAIN_CHANNEL} licensee ${before.plain.release.version} (${before.plain.path?.state ?? "no path"})`);
    if (before.stone.release.version !== stoneV) throw new Error(`the stepping-stone licensee resolves to ${before.stone.release.version}, not the stone ${stoneV}: ${JSON.stringify(before.stone.path)}`);
    if (before.served.release.version !== targetV || before.plain.release.version !== targetV) throw new Error(`the other licensees do not resolve to the target ${targetV}`);
    // 4. every license once: the served fleet gets the target (a fresh install), the stone fleet the stone
    setup.plain = await once("plain", before.plain.etag);
    setup.served = await once("served", before.served.etag);
    setup.stone = await once("stone", before.stone.etag);
    setup.quiet = [await once("quiet", before.served.etag), await once("quiet", before.served.etag)];
    const quietSince = performance.now();
    // 5. interleaved rounds: every fleet once per round, the order rotating
    const rotateLua = join(benchDir, "lua/rotate.lua");
    const kinds = ["plain", "served", "stone"];
    const run = (k, seconds, i) => runWrkPlain({ tools, port: srv.port, seconds, cpuPids: [srv.pid], server: srv, script: rotateLua, args: [fleets[k].file, String(((i * 1_913) % P) + 1)] });
    if (settings.warmupSeconds > 0) for (const k of kinds) await run(k, settings.warmupSeconds, 0);
    const runs = Object.fromEntries(kinds.map((k) => [k, []]));
    for (let i = 0; i < settings.repeat; i++) {
      for (let j = 0; j < kinds.length; j++) {
        const k = kinds[(i + j) % kinds.length];
        const r = await run(k, settings.pairSeconds, i + 1);
        runs[k].push(r);
        log(`paths round ${i + 1} ${fleets[k].label.padEnd(48)}: ${fmtInt(r.rps)} req/s, p50 ${fmtMs(r.p50ms)}, p99 ${fmtMs(r.p99ms)}, non-2xx/3xx ${r.bad}, socket errors ${r.socketErrors}, CPU ${r.cpuShare?.toFixed(2)} core`);
      }
    }
    // 6. the quiet fleet: forgotten by this replica's fleet recorder (written
    // within 5 s of its poll, dropped at the first flush a minute after the
    // write), so its next poll reads its installation once more: each
    // license once, bracketed by two passes of the plain fleet
    const forgetMs = 60_000 + 2 * 5_000 + 3_000;
    const waitMs = forgetMs - (performance.now() - quietSince);
    if (waitMs > 0) {
      log(`paths: waiting ${(waitMs / 1000).toFixed(0)} s until the fleet recorder has forgotten the quiet fleet…`);
      await sleep(waitMs);
    }
    const quietPasses = { plainBefore: await once("plain", before.plain.etag), quiet: await once("quiet", before.served.etag), plainAfter: await once("plain", before.plain.etag) };
    const quietRatio = quietPasses.quiet.rps / ((quietPasses.plainBefore.rps + quietPasses.plainAfter.rps) / 2);
    // still on the stone after the rounds (the soak, STEPPING_STONE_SOAK, is 1 h)
    const after = { stone: await resolve("bench-path-stone-2500", ROLLOUT_CHANNEL), served: await resolve("bench-path-served-2500", ROLLOUT_CHANNEL) };
    const ratios = (k) => runs[k].map((r, i) => r.rps / runs.plain[i].rps);
    S.paths = {
      licensesPerFleet: P,
      rounds: settings.repeat,
      seconds: settings.pairSeconds,
      database: "SQLite (the embedded default; bench/lib.mjs's startServer has no DATABASE_URL switch)",
      plain: armOf(runs.plain),
      served: { ...armOf(runs.served), ratio: median(ratios("served")), allRatios: ratios("served").map((v) => +v.toFixed(3)), p99Ratio: median(runs.served.map((r, i) => r.p99ms / runs.plain[i].p99ms)) },
      stone: { ...armOf(runs.stone), ratio: median(ratios("stone")), allRatios: ratios("stone").map((v) => +v.toFixed(3)), p99Ratio: median(runs.stone.map((r, i) => r.p99ms / runs.plain[i].p99ms)) },
      quiet: { ...quietPasses, ratio: quietRatio, secondsQuiet: forgetMs / 1000 },
      setup,
      resolve: { before: { stone: before.stone.path, served: before.served.path }, after: { stone: after.stone.path, stoneRelease: after.stone.release.version, served: after.served.path } },
      method: `one server (SQLite), releases ${PATH_RELEASES.join(", ")} (the same bytes but the version); ${PLAIN_CHANNEL} promoted ${oldV} → ${targetV} (no path), ${ROLLOUT_CHANNEL} ${oldV} → ${stoneV} (then marked required) → ${targetV}; the stepping-stone fleet polled once at ${oldV} and written to the fleet table (7 s) before the moves; then every license once (bench/lua/tokens.lua, counting the expected ETag); then ${settings.repeat} interleaved rounds of ${settings.pairSeconds} s per fleet (order rotating), wrk -t1 -c${settings.connections} with bench/lua/rotate.lua rotating each fleet's ${fmtInt(P)} Authorization headers; ratio = median of the per-round ratios to ${PLAIN_CHANNEL}'s`,
    };
    log(`paths: quiet served-target fleet, each once after the recorder forgot it: ${fmtInt(quietPasses.quiet.rps)} req/s against ${fmtInt(quietPasses.plainBefore.rps)} and ${fmtInt(quietPasses.plainAfter.rps)} for ${PLAIN_CHANNEL}'s fleet once (${fmtRatio(quietRatio)})`);
    log(`paths: served-target / no path ${fmtRatio(S.paths.served.ratio)} (rounds ${S.paths.served.allRatios.join(", ")}); stepping stone / no path ${fmtRatio(S.paths.stone.ratio)} (rounds ${S.paths.stone.allRatios.join(", ")}); after the rounds the stone licensee resolves to ${after.stone.release.version} (${after.stone.path?.state})`);
    await srv.stop();
  }

  const { WINDOW_KEYS } = await import(pathToFileURL(join(root, "dist/services/rate-limits.js")).href);
  results.bounds = {
    licenseCache: `verified-license cache: max LICENSE_CACHE_SIZE entries (default 200,000; config range 100–10,000,000), least recently used evicted; an entry is served until the license's exp, and the entries of a key the JWKS file no longer lists are dropped when it is reloaded (src/licensing/license-cache.ts)${stEnd ? `; measured max here ${stEnd.max}` : ""}`,
    specCache: `specService LRU: max 10,000 entries (channels × pinned refs × licensees with overrides; src/services/spec-service.ts); emptied on every catalog or override change${stEnd?.specMax !== undefined ? `; measured ${stEnd.specSize}/${stEnd.specMax}` : ""}`,
    rateLimits: `rate-limit counters (src/services/rate-limits.ts): one fixed-window Map per limit and minute, replaced when the window ends, holding the keys seen in that minute: at most ${fmtInt(WINDOW_KEYS.ip)} client IPs, ${fmtInt(WINDOW_KEYS.admin)} admin subjects, ${fmtInt(WINDOW_KEYS.license)} licensees (with REDIS_URL: keys in Redis expiring with the window)`,
    replay: "poll replay (src/routes/poll-replay.ts): per serialized spec still referenced (a WeakMap), the header list of its 200 and 304 renderings; per request handed to fastify, its admission (a WeakMap)",
    inflight: "specService in-flight loads: one per distinct cache key being built, deleted when settled",
    revocations: "revocation Set: every revoked jti in the database (not bounded by the server; bounded by what is revoked)",
    fleetRecorder:
      "fleetRecorder (src/services/fleet-recorder.ts): one entry per licensee polled or written within the last write interval (60 s): its polls not yet written and its last write; entries written and quiet for longer are dropped at every flush (every 5 s)",
  };
  results.loadavgAtEnd = os.loadavg();

  // ---- table
  const rows = [];
  const st = S.startToReady;
  if (st) rows.push({
    scenario: "start → ready (fresh SQLite, sample channels)",
    rps: "—", p50: "—", p99: "—",
    reference: `median of ${boots.length}: ${fmtInt(st.medianMs)} ms (max ${fmtInt(st.maxMs)}; restart ${fmtInt(st.restartMs)} ms)`,
    ratio: "—",
    target: `≤ ${TARGETS.readyMs} ms`,
    met: st.medianMs <= TARGETS.readyMs,
  });
  const W = S.warm;
  const NM = S.notModified;
  const scenarioRows = (title, X, reference304) => {
    const refs = `nginx ${fmtInt(X.n.rps)} (p99 ${fmtMs(X.n.p99ms)}); raw node:http ${fmtInt(X.r.rps)} (p99 ${fmtMs(X.r.p99ms)})`;
    return [
      {
        scenario: title,
        rps: fmtInt(X.c.rps), p50: fmtMs(X.c.p50ms), p99: fmtMs(X.c.p99ms),
        reference: refs,
        ratio: `${fmtRatio(X.ratioRaw)} raw, ${fmtRatio(X.ratioNginx)} nginx`,
        target: reference304
          ? `all ${X.expected} (ratios reported)`
          : `≥ ${TARGETS.warmRatioRaw}× raw, ≥ ${TARGETS.warmRatioNginx}× nginx (stretch), p99 ≤ ${TARGETS.warmP99RatioRaw}× raw's, 0 non-2xx`,
        met: reference304
          ? X.c.bad === 0 && X.c.socketErrors === 0
          : X.ratioRaw >= TARGETS.warmRatioRaw && X.p99RatioRaw <= TARGETS.warmP99RatioRaw && X.c.bad === 0 && X.c.socketErrors === 0,
        note: `median of ${X.rounds} interleaved rounds of ${X.seconds} s; per-round ratios to raw node ${X.allRatiosRaw.join(", ")}, to nginx ${X.allRatiosNginx.join(", ")}; p99 ratio to raw node ${fmtRatio(X.p99RatioRaw)}; raw node / nginx ${fmtRatio(X.rawToNginx)}; nginx ${X.ratioNginx >= TARGETS.warmRatioNginx ? "≥" : "<"} ${TARGETS.warmRatioNginx}×; unexpected statuses ${X.c.bad}, socket errors ${X.c.socketErrors}`,
      },
      ...(X.b ? [{ scenario: "  calibration: bare fastify, Buffer body", rps: fmtInt(X.b.rps), p50: fmtMs(X.b.p50ms), p99: fmtMs(X.b.p99ms), reference: "raw node:http", ratio: `${fmtRatio(X.bareRatioRaw)} raw`, target: "—", met: undefined }] : []),
      ...(X.x ? [{ scenario: "  A/B: compared build (BENCH_COMPARE)", rps: fmtInt(X.x.rps), p50: fmtMs(X.x.p50ms), p99: fmtMs(X.x.p99ms), reference: "this build's Chartroom", ratio: fmtRatio(X.compareRatio), target: "—", met: undefined, note: `compared build / this build, per round: ${X.allRatiosCompare.join(", ")}; unexpected statuses ${X.x.bad}` }] : []),
    ];
  };
  if (W) rows.push(...scenarioRows("warm licensed GET (200)", W, false));
  if (NM) rows.push(...scenarioRows("304 (If-None-Match)", NM, true));
  const C = S.cold;
  if (C) rows.push({
    scenario: "cold: every request a never-seen license",
    rps: fmtInt(C.chartroom.rps), p50: fmtMs(C.chartroom.p50ms), p99: fmtMs(C.chartroom.p99ms),
    reference: `in-process fast-jwt RS256 verify ${fmtInt(verify.fastjwt.perSecond)}/s (crypto only ${fmtInt(verify.crypto.perSecond)}/s)`,
    ratio: fmtRatio(C.ratio),
    target: `≥ ${TARGETS.coldRatio}×`,
    met: C.ratio >= TARGETS.coldRatio && C.chartroom.bad === 0,
    note: `${fmtInt(C.chartroom.requests - C.chartroom.extra)} requests in ${C.chartroom.seconds.toFixed(1)} s, verifier misses ${C.verifier.misses}, hits ${C.verifier.hits}, non-2xx ${C.chartroom.bad}`,
  });
  if (S.coldOneLicensee) {
    const O = S.coldOneLicensee;
    rows.push({
      scenario: "cold, diagnostic: never-seen tokens, ONE licensee",
      rps: fmtInt(O.chartroom.rps), p50: fmtMs(O.chartroom.p50ms), p99: fmtMs(O.chartroom.p99ms),
      reference: `same verify rate ${fmtInt(verify.fastjwt.perSecond)}/s`,
      ratio: fmtRatio(O.ratio),
      target: "— (tells crypto+HTTP from per-licensee cost)",
      met: undefined,
      note: `${fmtInt(O.chartroom.requests - O.chartroom.extra)} requests in ${O.chartroom.seconds.toFixed(1)} s${O.exhaustedLicenses ? " (ran out of its " + fmtInt(oneSubN) + " tokens)" : ""}, non-2xx ${O.chartroom.bad}`,
    });
  }
  if (S.cluster) {
    const K = S.cluster;
    rows.push({
      scenario: `cluster: warm, ${K.workers} workers vs 1 (unpinned)`,
      rps: fmtInt(K.many.warm.rps), p50: fmtMs(K.many.warm.p50ms), p99: fmtMs(K.many.warm.p99ms),
      reference: `1 process, same conditions: ${fmtInt(K.one.warm.rps)} (p99 ${fmtMs(K.one.warm.p99ms)})`,
      ratio: fmtRatio(K.warmGain),
      target: "— (optional: does it help?)",
      met: undefined,
      note: `non-2xx ${K.many.warm.bad}; server and wrk share all ${tools.cpus} CPUs, so the workers do not get ${K.workers} whole cores`,
    });
    rows.push({
      scenario: `cluster: cold, ${K.workers} workers vs 1 (unpinned)`,
      rps: fmtInt(K.many.cold.rps), p50: fmtMs(K.many.cold.p50ms), p99: fmtMs(K.many.cold.p99ms),
      reference: `1 process, same conditions: ${fmtInt(K.one.cold.rps)}`,
      ratio: fmtRatio(K.coldGain),
      target: "—",
      met: undefined,
      note: `non-2xx ${K.many.cold.bad}; against the one-core verify rate: ${fmtRatio(K.coldRatio)}`,
    });
  }
  const M = S.manyLicenses;
  for (const p of M?.passes ?? []) {
    const last = p.pass === 2;
    rows.push({
      scenario: `${fmtInt(N)} distinct licenses, pass ${p.pass} (${p.pass === 1 ? "all new" : "all seen"})`,
      rps: fmtInt(p.rps), p50: fmtMs(p.p50ms), p99: fmtMs(p.p99ms),
      reference: `hit rate ${(p.verifier.hitRate * 100).toFixed(1)}% (${fmtInt(p.verifier.hits)} hits / ${fmtInt(p.verifier.misses)} misses); RSS ${fmtMB(p.rssBytes)}`,
      ratio: "—",
      target: last ? `peak RSS ≤ ${TARGETS.rssBytes / MB} MB, bounded caches` : "—",
      met: last ? M.peakRssBytes <= TARGETS.rssBytes && N >= 100_000 : undefined,
      note: last
        ? `peak RSS (VmHWM) ${fmtMB(M.peakRssBytes)} (RSS after start ${fmtMB(M.rssAfterStartBytes)}, after pass 1 ${fmtMB(M.passes[0].rssBytes)}: ≈ ${fmtInt(M.rssPerLicenseBytesPass1)} B per licensee${M.memoryUsageEnd ? `; heap used at end ${fmtMB(M.memoryUsageEnd.heapUsed)}` : ""}); license cache ${fmtInt(p.verifier.cacheSize)}/${fmtInt(p.verifier.cacheMax)}; non-2xx ${p.bad}`
        : `non-2xx ${p.bad}${p.complete ? "" : " (INCOMPLETE: hit the time cap)"}`,
    });
  }
  const H = S.hourlyFleet;
  for (const p of H?.passes ?? []) {
    const last = p.pass === 2;
    rows.push({
      scenario: `hourly fleet: ${fmtInt(N)} licensees once each at random in ${H.windowSeconds} s, pass ${p.pass} (${p.pass === 1 ? "all new" : "all seen"})`,
      rps: fmtInt(p.rps), p50: fmtMs(p.p50ms), p99: fmtMs(p.p99ms),
      reference: `hit rate ${(p.verifier.hitRate * 100).toFixed(1)}% (${fmtInt(p.verifier.hits)} hits / ${fmtInt(p.verifier.misses)} misses); RSS ${fmtMB(p.rssBytes)}`,
      ratio: "—",
      target: last ? `100% hits, peak RSS ≤ ${TARGETS.rssBytes / MB} MB` : "—",
      met: last ? p.verifier.misses === 0 && p.bad === 0 && H.peakRssBytes <= TARGETS.rssBytes && N >= 100_000 : undefined,
      note: `${p.seconds.toFixed(1)} s for a ${H.windowSeconds} s window (a request started at most ${fmtMs(p.maxLateMs)} after its instant), non-200 ${p.bad}, socket errors ${p.errors}${last ? `; peak RSS (VmHWM) ${fmtMB(H.peakRssBytes)} (after start ${fmtMB(H.rssAfterStartBytes)}, after the flush ${fmtMB(H.rssAfterIdleBytes)}); license cache ${fmtInt(p.verifier.cacheSize)}/${fmtInt(p.verifier.cacheMax)}` : ""}`,
    });
  }
  const RO = S.rollout;
  if (RO) {
    const w = RO.warm;
    rows.push({
      scenario: `rollout at 50 %: warm poll, ${fmtInt(w.licensesPerChannel)} licensees rotating`,
      rps: fmtInt(w.rollout.rps), p50: fmtMs(w.rollout.p50ms), p99: fmtMs(w.rollout.p99ms),
      reference: `same server, twin channel without a rollout: ${fmtInt(w.plain.rps)} (p99 ${fmtMs(w.plain.p99ms)})`,
      ratio: fmtRatio(w.ratio),
      target: `≥ ${TARGETS.rolloutWarmRatio}× (within 10 %), 0 non-2xx`,
      met: w.ratio >= TARGETS.rolloutWarmRatio && w.rollout.bad === 0 && w.rollout.socketErrors === 0,
      note: `median of ${w.rounds} interleaved rounds of ${w.seconds} s; per-round ratios ${w.allRatios.join(", ")};${w.compare ? ` A/B (BENCH_COMPARE): the compared build's ratio ${fmtRatio(w.compare.ratio)} (rounds ${w.compare.allRatios.join(", ")}), this build's rollout channel ${fmtRatio(w.compare.rolloutAB)} the compared build's, its channel without a rollout ${fmtRatio(w.compare.plainAB)};` : ""} p99 ratio ${fmtRatio(w.p99Ratio)}; answers that were the target (every license once) ${(100 * w.targetShare).toFixed(2)} % (the formula: ${(100 * w.expectedShare).toFixed(2)} %); spec cache ${w.specCacheEntries} entries (1 for the twin, 2 for the rollout's sides); the rollout's counts ${JSON.stringify(w.rolloutCounts)}; CPU share ${w.rollout.cpuShare?.toFixed(2)} / ${w.plain.cpuShare?.toFixed(2)} core; non-2xx ${w.rollout.bad} / ${w.plain.bad}`,
    });
    const m = RO.memory;
    rows.push({
      scenario: `rollout at 50 %: hourly fleet, ${fmtInt(m.rollout.licenses)} licensees, 2 passes of ${m.rollout.windowSeconds} s`,
      rps: fmtInt(m.rollout.passes[1].rps), p50: fmtMs(m.rollout.passes[1].p50ms), p99: fmtMs(m.rollout.passes[1].p99ms),
      reference: `peak RSS ${fmtMB(m.rollout.peakRssBytes)} with the rollout, ${fmtMB(m.plain.peakRssBytes)} without (fresh servers)`,
      ratio: fmtRatio(m.peakRatio),
      target: `peak RSS ≤ ${TARGETS.rolloutRssRatio}×, 2 spec entries`,
      met: m.peakRatio <= TARGETS.rolloutRssRatio && m.specCacheEntries.rollout <= 2 && m.rollout.passes.every((p) => p.bad === 0),
      note: `spec cache entries after pass 2: ${m.specCacheEntries.rollout} with the rollout, ${m.specCacheEntries.plain} without; RSS after start ${fmtMB(m.rollout.rssAfterStartBytes)} / ${fmtMB(m.plain.rssAfterStartBytes)}, after pass 1 ${fmtMB(m.rollout.passes[0].rssBytes)} / ${fmtMB(m.plain.passes[0].rssBytes)}; pass 2 hit rate ${(100 * m.rollout.hitRateSecondPass).toFixed(1)} % / ${(100 * m.plain.hitRateSecondPass).toFixed(1)} %; non-200 ${m.rollout.passes.map((p) => p.bad).join("+")} / ${m.plain.passes.map((p) => p.bad).join("+")}; the rollout's counts ${JSON.stringify(m.rollout.rolloutCounts)}`,
    });
  }
  const PA = S.paths;
  if (PA) {
    rows.push({
      scenario: `upgrade path applies: warm poll of licensees served the target, ${fmtInt(PA.licensesPerFleet)} rotating`,
      rps: fmtInt(PA.served.rps), p50: fmtMs(PA.served.p50ms), p99: fmtMs(PA.served.p99ms),
      reference: `same server, ${PLAIN_CHANNEL} (no path): ${fmtInt(PA.plain.rps)} (p99 ${fmtMs(PA.plain.p99ms)})`,
      ratio: fmtRatio(PA.served.ratio),
      target: `≥ ${TARGETS.pathsServedRatio}× (within 5 %), 0 non-2xx`,
      met: PA.served.ratio >= TARGETS.pathsServedRatio && PA.served.bad === 0 && PA.served.socketErrors === 0,
      note: `median of ${PA.rounds} interleaved rounds of ${PA.seconds} s; per-round ratios ${PA.served.allRatios.join(", ")}; p99 ratio ${fmtRatio(PA.served.p99Ratio)}; CPU share ${PA.served.cpuShare?.toFixed(2)} / ${PA.plain.cpuShare?.toFixed(2)} core; non-2xx ${PA.served.bad} / ${PA.plain.bad}`,
    });
    rows.push({
      scenario: `upgrade path: licensees on the stepping stone (installation read per poll, ${PA.database.split(" ")[0]})`,
      rps: fmtInt(PA.stone.rps), p50: fmtMs(PA.stone.p50ms), p99: fmtMs(PA.stone.p99ms),
      reference: `same rounds, ${PLAIN_CHANNEL} (no path): ${fmtInt(PA.plain.rps)}`,
      ratio: fmtRatio(PA.stone.ratio),
      target: "— (reported: two indexed reads per poll)",
      met: PA.stone.bad === 0 && PA.stone.socketErrors === 0 && PA.resolve.after.stoneRelease === PATH_RELEASES[1],
      note: `per-round ratios ${PA.stone.allRatios.join(", ")}; p99 ratio ${fmtRatio(PA.stone.p99Ratio)}; CPU share ${PA.stone.cpuShare?.toFixed(2)} core; after the rounds /resolve: ${PA.resolve.after.stoneRelease} (${PA.resolve.after.stone?.state}: ${PA.resolve.after.stone?.text}); non-2xx ${PA.stone.bad}`,
    });
    rows.push({
      scenario: `upgrade path: served the target, then quiet ${PA.quiet.secondsQuiet} s (forgotten), each once`,
      rps: fmtInt(PA.quiet.quiet.rps), p50: fmtMs(PA.quiet.quiet.p50ms), p99: fmtMs(PA.quiet.quiet.p99ms),
      reference: `${PLAIN_CHANNEL}'s fleet once, before and after: ${fmtInt(PA.quiet.plainBefore.rps)}, ${fmtInt(PA.quiet.plainAfter.rps)}`,
      ratio: fmtRatio(PA.quiet.ratio),
      target: "— (diagnostic: an hourly poller)",
      met: undefined,
      note: `one pass of ${fmtInt(PA.licensesPerFleet)} licenses each (${PA.quiet.quiet.seconds.toFixed(2)} s; short, so noisy); non-2xx ${PA.quiet.quiet.bad}; answers with the target's ETag ${PA.quiet.quiet.target}`,
    });
  }
  results.table = rows;

  const cols = [
    ["scenario", "scenario"], ["rps", "Chartroom req/s"], ["p50", "p50"], ["p99", "p99"], ["reference", "reference"], ["ratio", "ratio"], ["target", "target"], ["met", "met?"],
  ];
  const cell = (r, k) => (k === "met" ? (r.met === undefined ? "—" : r.met ? "yes" : "NO") : String(r[k]));
  const widths = cols.map(([k, h]) => Math.max(h.length, ...rows.map((r) => cell(r, k).length)));
  const line = (vals) => "| " + vals.map((v, i) => v.padEnd(widths[i])).join(" | ") + " |";
  const out = [
    "",
    `Chartroom benchmark — ${startedAt.toISOString()} — ${env.node}, ${env.cpus} CPUs (${env.cpuModel}), pinned: ${env.pinned}, nice ${env.nice}`,
    `server started as npm start runs it: ${env.startCommand}`,
    `throughput: plain wrk -t1 -c${settings.connections} -d${settings.pairSeconds}s --latency (no Lua), ${settings.repeat} interleaved rounds, medians; cold and 100k: wrk with a Lua script, ${settings.seconds} s; hourly fleet: bench/hourly-client.mjs; warm-up ${settings.warmupSeconds} s; scenarios ${[...settings.scenarios].join(",")}${body ? `; spec ${body.length} bytes` : ""}; load average at start ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, at end ${results.loadavgAtEnd.map((l) => l.toFixed(2)).join(" ")}`,
    "",
    line(cols.map(([, h]) => h)),
    "|" + widths.map((w) => "-".repeat(w + 2)).join("|") + "|",
    ...rows.map((r) => line(cols.map(([k]) => cell(r, k)))),
    "",
    ...rows.filter((r) => r.note).map((r) => `  ${r.scenario}: ${r.note}`),
    ...(W && C ? [`  CPU share of the measured process during the runs (1.00 = one full core): warm Chartroom ${W.c.cpuShare?.toFixed(2)}, nginx ${W.n.cpuShare?.toFixed(2)}, raw node ${W.r.cpuShare?.toFixed(2)}; cold ${C.chartroom.cpuShare?.toFixed(2)}`] : []),
    ...(verify && C ? [`  in-process verify/s: node:crypto ${fmtInt(verify.crypto.perSecond)}, fast-jwt ${fmtInt(verify.fastjwt.perSecond)}, Chartroom LicenseVerifier ${fmtInt(verify.chartroom.perSecond)}; cold/LicenseVerifier ${fmtRatio(C.ratioToLicenseVerifier)}`] : []),
    ...(H ? [`  hourly fleet method: ${H.method}`] : []),
    "",
    "Bounds:",
    ...Object.values(results.bounds).map((b) => `  - ${b}`),
    "",
  ];
  process.stdout.write(out.join("\n") + "\n");
  results.text = out.join("\n");
  const resultsDir = join(benchDir, "results");
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, "latest.json"), JSON.stringify(results, null, 2) + "\n");
  log(`wrote ${join(resultsDir, "latest.json")}`);
  return rows.every((r) => r.met !== false) ? 0 : 1;
}

let code = 1;
try {
  code = await main();
} catch (err) {
  process.stderr.write(`bench: ${err?.stack ?? err}\n`);
  code = 2;
} finally {
  await cleanupAll();
}
// A missed target is reported, not an error of the run: exit 0 unless BENCH_STRICT is set.
process.exit(code === 2 ? 2 : process.env.BENCH_STRICT && code !== 0 ? 1 : 0);
