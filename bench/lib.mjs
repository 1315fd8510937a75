// Shared helpers of the Chartroom benchmark (bench/run.mjs, bench/profile.mjs):
// tool checks, temp dirs, the server and nginx as pinned child processes,
// wrk runs, license generation. Plain Node ESM, no dependencies beyond the
// project's own dist/ build. Every request goes to 127.0.0.1.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";

export const benchDir = dirname(fileURLToPath(import.meta.url));
export const root = join(benchDir, "..");
export const SPEC_PATH = "/api/v1/operator/channel";

/** The scenarios of bench/run.mjs, in the order they run. */
export const SCENARIOS = ["start", "warm", "cold", "cluster", "many", "hourly", "rollout", "paths"];
const env = process.env;
export const settings = {
  seconds: posInt(env.BENCH_SECONDS, 10),
  warmupSeconds: nonNegInt(env.BENCH_WARMUP_SECONDS, 2),
  connections: posInt(env.BENCH_CONNECTIONS, 64),
  licenses: posInt(env.BENCH_LICENSES, 100_000),
  oneSubLicenses: nonNegInt(env.BENCH_ONE_SUB_LICENSES, 30_000),
  bare: env.BENCH_BARE !== "0",
  verifySeconds: posInt(env.BENCH_VERIFY_SECONDS, 3),
  startSamples: posInt(env.BENCH_START_SAMPLES, 3),
  // interleaved pairs (Chartroom, reference, Chartroom, …) per throughput scenario, and their length
  repeat: posInt(env.BENCH_REPEAT, 5),
  pairSeconds: posInt(env.BENCH_PAIR_SECONDS, 4),
  // another checkout (with its own dist/) measured in the same rounds: an A/B of two builds
  compare: env.BENCH_COMPARE || undefined,
  // cluster mode: 0 skips it; default: as many workers as CPUs (when there are two or more)
  clusterWorkers: nonNegInt(env.BENCH_CLUSTER_WORKERS, os.availableParallelism?.() ?? os.cpus().length),
  // which scenarios run (BENCH_SCENARIOS=hourly,cold …); default: all of them
  scenarios: scenarioSet(env.BENCH_SCENARIOS),
  // the hourly fleet: each licensee polls once per pass at a random instant of this window
  hourlyWindowSeconds: posInt(env.BENCH_HOURLY_WINDOW_SECONDS, 120),
  hourlyConnections: posInt(env.BENCH_HOURLY_CONNECTIONS, 32),
  // the rollout scenario: licensees per channel in its throughput rounds (at most BENCH_LICENSES)
  rolloutLicenses: Math.min(posInt(env.BENCH_ROLLOUT_LICENSES, 100_000), posInt(env.BENCH_LICENSES, 100_000)),
  // the upgrade-paths scenario: licensees in each of its three fleets (signed for it)
  pathLicenses: posInt(env.BENCH_PATH_LICENSES, 5000),
};

function scenarioSet(v) {
  if (v === undefined || v.trim() === "") return new Set(SCENARIOS);
  const names = v.split(",").map((x) => x.trim()).filter(Boolean);
  const unknown = names.filter((x) => !SCENARIOS.includes(x));
  if (unknown.length > 0) {
    process.stderr.write(`bench: unknown scenario(s) in BENCH_SCENARIOS: ${unknown.join(", ")} (known: ${SCENARIOS.join(", ")})\n`);
    process.exit(2);
  }
  return new Set(names);
}

function posInt(v, dflt) {
  const n = Number(v);
  return v !== undefined && v !== "" && Number.isInteger(n) && n > 0 ? n : dflt;
}
function nonNegInt(v, dflt) {
  const n = Number(v);
  return v !== undefined && v !== "" && Number.isInteger(n) && n >= 0 ? n : dflt;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const log = (...a) => process.stderr.write(`[bench] ${a.join(" ")}\n`);

// ---------------------------------------------------------------- tools

function which(cmd) {
  for (const dir of (env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin", "/usr/local/sbin"])) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/**
 * wrk and nginx, installed from Debian apt when missing and we are root;
 * otherwise the one command to run is printed and the process exits.
 */
export function ensureTools({ needNginx = true, needWrk = true } = {}) {
  const want = () => ({ wrk: needWrk ? which("wrk") : "unused", nginx: needNginx ? which("nginx") : "unused" });
  let tools = want();
  const missing = () => Object.entries(tools).filter(([, p]) => !p).map(([k]) => k);
  if (missing().length > 0) {
    const cmd = "apt-get update && apt-get install -y wrk nginx-light";
    const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
    if (isRoot && which("apt-get")) {
      log(`missing ${missing().join(", ")}: running \`${cmd}\``);
      const r = spawnSync("sh", ["-c", cmd], { stdio: ["ignore", "inherit", "inherit"], env: { ...env, DEBIAN_FRONTEND: "noninteractive" }, timeout: 600_000 });
      if (r.status !== 0) log(`\`${cmd}\` failed (exit ${r.status})`);
      tools = want();
    }
    if (missing().length > 0) {
      process.stderr.write(`bench: ${missing().join(" and ")} not found. Install them with:\n  ${isRoot ? "" : "sudo sh -c '"}${cmd}${isRoot ? "" : "'"}\n`);
      process.exit(2);
    }
  }
  const taskset = which("taskset");
  const cpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  // Server (and nginx) on CPU 0, wrk on CPU 1: only when there are two CPUs to split.
  const pin = taskset && cpus >= 2;
  // On a shared machine other work competes for both CPUs; as root, the
  // measured processes run at a higher priority (BENCH_NICE, default -15;
  // 0 turns it off) so that each gets close to its whole core.
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const niceBin = which("nice");
  const nice = env.BENCH_NICE !== undefined && env.BENCH_NICE !== "" ? Number(env.BENCH_NICE) : isRoot ? -15 : 0;
  const nicePrefix = niceBin && Number.isInteger(nice) && nice !== 0 && (nice > 0 || isRoot) ? [niceBin, "-n", String(nice)] : [];
  // With sched_autogroup (Linux's default on desktops and many VMs) nice only
  // ranks processes within their session: each measured process is started
  // in a new session (detached) whose autogroup gets the same nice value.
  autogroupNice = nicePrefix.length && isRoot && existsSync("/proc/self/autogroup") ? nice : undefined;
  return {
    ...tools,
    taskset,
    cpus,
    pinned: pin,
    nice: nicePrefix.length ? nice : 0,
    autogroup: autogroupNice !== undefined,
    serverPrefix: [...nicePrefix, ...(pin ? [taskset, "-c", "0"] : [])],
    loadPrefix: [...nicePrefix, ...(pin ? [taskset, "-c", "1"] : [])],
  };
}

// ---------------------------------------------------------------- temp dirs and cleanup

const cleanups = [];
let cleaning = false;

/** Registers a cleanup action, run (last first) on exit, signal or timeout. */
export function onCleanup(fn) {
  cleanups.push(fn);
}

export async function cleanupAll() {
  if (cleaning) return;
  cleaning = true;
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (err) {
      log(`cleanup: ${err?.message ?? err}`);
    }
  }
}

/** Cleans up on SIGINT/SIGTERM and after `limitMs` (the whole run is bounded in time). */
export function installGuards(limitMs) {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      log(`${sig}: cleaning up`);
      void cleanupAll().then(() => process.exit(130));
    });
  }
  const t = setTimeout(() => {
    log(`the run exceeded ${Math.round(limitMs / 1000)} s; aborting`);
    void cleanupAll().then(() => process.exit(3));
  }, limitMs);
  t.unref();
  // Last resort for synchronous exits: children are killed with SIGKILL.
  process.on("exit", () => {
    for (const c of liveChildren) {
      try {
        c.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }
  });
}

export function makeTempDir(prefix = "chartroom-bench-") {
  const dir = mkdtempSync(join(os.tmpdir(), prefix));
  // nginx workers run as an unprivileged user when the master is root.
  chmodSync(dir, 0o755);
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// ---------------------------------------------------------------- processes

const liveChildren = new Set();
let autogroupNice;

function track(child) {
  liveChildren.add(child);
  child.on("exit", () => liveChildren.delete(child));
  return child;
}

/**
 * Spawns a measured process (argv already carries the nice/taskset prefix)
 * in its own session, and gives that session's autogroup the bench's nice.
 */
export function spawnMeasured(argv, opts) {
  const child = track(spawn(argv[0], argv.slice(1), { ...opts, detached: autogroupNice !== undefined }));
  if (autogroupNice !== undefined && child.pid) {
    try {
      writeFileSync(`/proc/${child.pid}/autogroup`, String(autogroupNice));
    } catch {
      /* not permitted or gone: run at the session's priority */
    }
  }
  return child;
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
export function stopChild(child, graceMs = 3000) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        /* gone */
      }
    }, graceMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    try {
      child.kill("SIGTERM");
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

/** One GET to 127.0.0.1 (no keep-alive); resolves { status, headers, body } or rejects. */
export function get(port, path, headers = {}, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, method: "GET", headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, rawHeaders: res.rawHeaders, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end();
  });
}

/** Polls GET path every `everyMs` until a 200; resolves the elapsed ms since `t0`. */
export async function waitFor200(port, path, { t0 = performance.now(), everyMs = 10, limitMs = 30_000, child } = {}) {
  for (;;) {
    if (child && (child.exitCode !== null || child.signalCode !== null)) throw new Error(`process exited (${child.exitCode ?? child.signalCode}) before ${path} answered 200`);
    try {
      const r = await get(port, path, {}, 1000);
      if (r.status === 200) return performance.now() - t0;
    } catch {
      /* not listening yet */
    }
    if (performance.now() - t0 > limitMs) throw new Error(`${path} on port ${port} not 200 after ${limitMs} ms`);
    await sleep(everyMs);
  }
}

/** utime+stime of a process, in seconds (from /proc/<pid>/stat). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (Number(fields[11]) + Number(fields[12])) / clockTicks();
  } catch {
    return NaN;
  }
}

let ticks;
function clockTicks() {
  if (ticks === undefined) {
    try {
      ticks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticks = 100;
    }
  }
  return ticks;
}

/** VmHWM (peak RSS) and VmRSS of a process, in bytes. */
export function memory(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (name) => {
      const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
      return m ? Number(m[1]) * 1024 : NaN;
    };
    return { hwm: kb("VmHWM"), rss: kb("VmRSS") };
  } catch {
    return { hwm: NaN, rss: NaN };
  }
}

// ---------------------------------------------------------------- Chartroom

/**
 * A data dir with its own RS256 signing key, an empty SQLite database path
 * and an admin secret: what every server started by the benchmark shares.
 */
export function prepareKeys(tmp) {
  const keyFile = join(tmp, "license-signing-key.pem");
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  return { keyFile, adminSecret: randomBytes(48).toString("base64url") };
}

const SERVER_ENV_DROP = [
  "PORT", "HOST", "DATABASE_URL", "CHANNELS_DIR", "DATA_DIR", "LOG_LEVEL", "LICENSE_JWKS_FILE", "LICENSE_SIGNING_KEY_FILE",
  "LICENSE_ISSUER", "LICENSE_AUDIENCE", "LICENSE_DEFAULT_CHANNEL", "LICENSE_CACHE_SIZE", "ADMIN_JWT_SECRET", "ADMIN_JWKS_FILE",
  "ADMIN_ISSUER", "ADMIN_AUDIENCE", "REDIS_URL", "NODE_OPTIONS",
];

/**
 * Starts `node dist/server.js` pinned to CPU 0 with a fresh (or given)
 * SQLite database under `dataDir`; resolves once /readyz answers 200, with
 * the spawn→ready time. `nodeArgs` go before the script (e.g. --cpu-prof).
 */
const rateLimit = env.BENCH_RATE_LIMITS === "off" ? "0" : "1000000000";

/**
 * How `npm start` (package.json) runs the server: its environment settings
 * (NAME=value before `node`) and its node flags, so the benchmark measures
 * the server as production runs it.
 */
export function startCommand() {
  const words = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).scripts.start.split(/\s+/);
  const node = words.indexOf("node");
  const env = Object.fromEntries(words.slice(0, node).map((w) => w.split("=")));
  return { env, flags: words.slice(node + 1, -1) };
}

export async function startServer({ tools, keys, dataDir, nodeArgs = [], extraEnv = {}, name = "server", build = root }) {
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  const childEnv = { ...env };
  for (const k of SERVER_ENV_DROP) delete childEnv[k];
  Object.assign(childEnv, {
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: `file:${join(dataDir, "chartroom.db")}`,
    CHANNELS_DIR: join(build, "channels"),
    DATA_DIR: dataDir,
    // warn: fastify logs two lines per request at info ("incoming request", "request completed").
    LOG_LEVEL: "warn",
    LICENSE_SIGNING_KEY_FILE: keys.keyFile,
    ADMIN_JWT_SECRET: keys.adminSecret,
    // All load comes from one IP (127.0.0.1) and, on the warm path, one
    // licensee: the per-IP and per-license limits stay ON (their code runs on
    // every request) but so high that they never refuse. BENCH_RATE_LIMITS=off
    // turns them off instead (0), to measure what they cost.
    RATE_LIMIT_IP_PER_MINUTE: rateLimit,
    RATE_LIMIT_LICENSE_PER_MINUTE: rateLimit,
    ...extraEnv,
  });
  const logFile = join(dataDir, `${name}.log`);
  const out = openSync(logFile, "a");
  const start = startCommand();
  Object.assign(childEnv, start.env, extraEnv);
  const argv = [...tools.serverPrefix, process.execPath, ...start.flags, ...nodeArgs, join(build, "dist/server.js")];
  const t0 = performance.now();
  const child = spawnMeasured(argv, { cwd: dataDir, env: childEnv, stdio: ["ignore", out, out] });
  onCleanup(() => stopChild(child, 1000));
  let readyMs;
  try {
    readyMs = await waitFor200(port, "/readyz", { t0, everyMs: 10, limitMs: 60_000, child });
  } catch (err) {
    const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-3000) : "";
    throw new Error(`${name} did not become ready: ${err.message}\n${tail}`);
  }
  return { child, pid: child.pid, port, readyMs, logFile, dataDir, stop: (graceMs = 3000) => stopChild(child, graceMs) };
}

// ---------------------------------------------------------------- nginx

/** nginx on CPU 0 serving `body` at SPEC_PATH (worker_processes 1, access_log off). */
export async function startNginx({ tools, dir, body }) {
  const www = join(dir, "www");
  const file = join(www, SPEC_PATH);
  mkdirSync(dirname(file), { recursive: true });
  mkdirSync(join(dir, "tmp"), { recursive: true });
  writeFileSync(file, body);
  for (let d = dirname(file); d.startsWith(dir); d = dirname(d)) chmodSync(d, 0o755);
  chmodSync(file, 0o644);
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  writeFileSync(
    conf,
    `# Written by bench/lib.mjs: the static reference for Chartroom's operator endpoint.
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  default_type application/json;
  sendfile on;
  tcp_nopush on;
  # Node keeps a connection for any number of requests; so does nginx here
  # (its default of 1000 would add reconnects that Chartroom does not pay).
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  client_body_temp_path ${dir}/tmp/body;
  proxy_temp_path ${dir}/tmp/proxy;
  fastcgi_temp_path ${dir}/tmp/fastcgi;
  uwsgi_temp_path ${dir}/tmp/uwsgi;
  scgi_temp_path ${dir}/tmp/scgi;
  server {
    listen 127.0.0.1:${port};
    root ${www};
  }
}
`,
  );
  const argv = [...tools.serverPrefix, tools.nginx, "-c", conf, "-p", dir];
  const child = spawnMeasured(argv, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  onCleanup(() => stopChild(child, 1000));
  try {
    await waitFor200(port, SPEC_PATH, { everyMs: 10, limitMs: 10_000, child });
  } catch (err) {
    throw new Error(`nginx did not start: ${err.message}\n${stderr}`);
  }
  const workers = () => {
    try {
      return readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      return [];
    }
  };
  return { child, port, workers, stop: () => stopChild(child, 2000) };
}

// ---------------------------------------------------------------- Node references

/**
 * A reference server (bench/<script>) on CPU 0, with the node flags and
 * environment of `npm start`, like Chartroom; resolves once /readyz is 200.
 */
async function startNodeReference({ tools, name, script, args }) {
  const port = await freePort();
  const start = startCommand();
  const argv = [...tools.serverPrefix, process.execPath, ...start.flags, join(benchDir, script), String(port), ...args];
  const child = spawnMeasured(argv, { cwd: root, env: { ...env, ...start.env }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  onCleanup(() => stopChild(child, 1000));
  try {
    await waitFor200(port, "/readyz", { everyMs: 10, limitMs: 20_000, child });
  } catch (err) {
    throw new Error(`${name} did not start: ${err.message}\n${stderr}`);
  }
  return { child, pid: child.pid, port, stop: () => stopChild(child, 2000) };
}

/** bench/bare-fastify.mjs: fastify alone, same body, ETag and 304 as Chartroom (calibration). */
export async function startBareFastify({ tools, dir, body, etag }) {
  mkdirSync(dir, { recursive: true });
  const bodyFile = join(dir, "body.json");
  writeFileSync(bodyFile, body);
  return startNodeReference({ tools, name: "bare fastify", script: "bare-fastify.mjs", args: [bodyFile, etag] });
}

/**
 * bench/raw-node.mjs: node:http writing the same bytes and headers as
 * Chartroom's answer (`ok`/`notModified` header lists), Node's limit.
 */
export async function startRawNode({ tools, dir, body, headers }) {
  mkdirSync(dir, { recursive: true });
  const bodyFile = join(dir, "body.json");
  const headersFile = join(dir, "headers.json");
  writeFileSync(bodyFile, body);
  writeFileSync(headersFile, JSON.stringify(headers));
  return startNodeReference({ tools, name: "raw node", script: "raw-node.mjs", args: [bodyFile, headersFile] });
}

// ---------------------------------------------------------------- wrk

/**
 * Runs wrk pinned to CPU 1: -t1 -c<connections> -d<seconds>s --latency with a
 * Lua script that prints one `BENCH_JSON {…}` line in its done() hook.
 * `cpuPids` are sampled (utime+stime) before and after, to tell how much of
 * a core the server really got.
 */
export async function runWrk({ tools, port, path = SPEC_PATH, script, args = [], seconds, connections = settings.connections, cpuPids = [], server }) {
  const argv = [
    ...tools.loadPrefix, tools.wrk, "-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "--latency",
    "-s", script, `http://127.0.0.1:${port}${path}`, "--", ...args,
  ];
  const { stdout, cpuShare, fail } = await spawnWrk(argv, seconds, cpuPids, server);
  const line = stdout.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) fail("no result");
  const r = JSON.parse(line.slice("BENCH_JSON ".length));
  const secs = r.duration_us / 1e6;
  const socketErrors = r.errors.connect + r.errors.read + r.errors.write + r.errors.timeout;
  return {
    rps: (r.requests - (r.extra ?? 0)) / secs,
    requests: r.requests,
    seconds: secs,
    p50ms: r.latency_us.p50 / 1000,
    p90ms: r.latency_us.p90 / 1000,
    p99ms: r.latency_us.p99 / 1000,
    p999ms: r.latency_us.p999 / 1000,
    maxms: r.latency_us.max / 1000,
    ok: r.ok,
    bad: r.bad,
    badStatuses: r.bad_statuses,
    extra: r.extra ?? 0,
    // answers with the ETag given to tokens.lua as its fifth argument
    target: r.target ?? 0,
    socketErrors,
    errors: r.errors,
    bytesPerResponse: r.requests > 0 ? r.bytes / r.requests : 0,
    // Share of one core used by the measured process(es) during the run.
    cpuShare,
    wrkText: stdout.replace(/^BENCH_JSON .*\n?/m, ""),
  };
}

/** "1.23ms", "812.00us", "1.01s" → milliseconds. */
function wrkDuration(text) {
  const m = /^([0-9.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const n = Number(m[1]);
  return m[2] === "us" ? n / 1000 : m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : n * 60_000;
}

/**
 * Parses plain wrk's text report (no Lua script): Requests/sec, the
 * --latency distribution, "Non-2xx or 3xx responses" and socket errors.
 */
export function parseWrkText(text) {
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : 0;
  };
  const pct = (p) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)$`, "m").exec(text);
    return m ? wrkDuration(m[1]) : NaN;
  };
  const total = /^\s+(\d+) requests in ([0-9.]+)(us|ms|s|m),/m.exec(text);
  if (!total) throw new Error(`not a wrk report:\n${text}`);
  const se = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = se ? { connect: +se[1], read: +se[2], write: +se[3], timeout: +se[4] } : { connect: 0, read: 0, write: 0, timeout: 0 };
  return {
    rps: num(/^Requests\/sec:\s+([0-9.]+)/m),
    requests: Number(total[1]),
    seconds: wrkDuration(total[2] + total[3]) / 1000,
    p50ms: pct(50),
    p90ms: pct(90),
    p99ms: pct(99),
    maxms: (() => {
      const m = /^\s+Latency\s+\S+\s+\S+\s+(\S+)/m.exec(text);
      return m ? wrkDuration(m[1]) : NaN;
    })(),
    // wrk counts neither 2xx nor 3xx here; a 200 where a 304 was expected
    // is not one of these: the checking pass (runWrk with a Lua script) tells.
    bad: num(/^\s+Non-2xx or 3xx responses:\s+(\d+)/m),
    socketErrors: errors.connect + errors.read + errors.write + errors.timeout,
    errors,
  };
}

/**
 * Throughput run with plain wrk, no Lua script: wrk's own C path, so the
 * load generator never caps the reference (a Lua response() callback holds
 * wrk itself below nginx's rate on this machine). Fixed headers only.
 * Statuses: wrk's non-2xx/3xx count; the expected status itself is checked
 * by a short pass of runWrk (Lua) before the measured runs. `script` may
 * name a wrk script with a request() callback and no response() (wrk then
 * still answers in C and prints its plain report): bench/lua/rotate.lua.
 */
export async function runWrkPlain({ tools, port, path = SPEC_PATH, headers = {}, seconds, connections = settings.connections, cpuPids = [], server, script, args = [] }) {
  const argv = [...tools.loadPrefix, tools.wrk, "-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "--latency"];
  for (const [k, v] of Object.entries(headers)) if (v) argv.push("-H", `${k}: ${v}`);
  // a script with a request() callback only (bench/lua/rotate.lua): wrk still prints its plain report
  if (script) argv.push("-s", script);
  argv.push(`http://127.0.0.1:${port}${path}`);
  if (script) argv.push("--", ...args);
  const { stdout, cpuShare, fail } = await spawnWrk(argv, seconds, cpuPids, server);
  try {
    return { ...parseWrkText(stdout), extra: 0, cpuShare, wrkText: stdout };
  } catch {
    return fail("no report");
  }
}

/**
 * Spawns one wrk run and waits for it; `cpuShare` is the share of one core
 * the `cpuPids` used meanwhile. `fail(what)` throws with wrk's output and
 * the server's state and log tail.
 */
async function spawnWrk(argv, seconds, cpuPids, server) {
  const cpu0 = cpuPids.map(cpuSeconds);
  const t0 = performance.now();
  const child = spawnMeasured(argv, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const killer = setTimeout(() => child.kill("SIGKILL"), (seconds + 60) * 1000);
  const code = await new Promise((r) => child.on("exit", (c, s) => r(c ?? s)));
  clearTimeout(killer);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuPids.map((pid, i) => cpuSeconds(pid) - cpu0[i]);
  const fail = (what) => {
    let tail = "";
    if (server) {
      const state = server.child.exitCode !== null || server.child.signalCode !== null ? `server exited (${server.child.exitCode ?? server.child.signalCode})` : "server running";
      tail = `\n${state}; its log:\n${existsSync(server.logFile) ? readFileSync(server.logFile, "utf8").slice(-3000) : ""}`;
    }
    throw new Error(`wrk produced ${what} (exit ${code}):\n${stdout}\n${stderr}${tail}`);
  };
  return { stdout, cpuShare: cpu.length > 0 ? cpu.reduce((a, b) => a + b, 0) / wall : undefined, fail };
}

// ---------------------------------------------------------------- licenses

/**
 * Signs `n` distinct licenses (sub <prefix>-<i>, or `sub` for all of them;
 * `channel` (default stable), jti <prefix>-<i>-<rand>, exp in 7 days) with
 * the server's RS256 key, in parallel worker threads. Returns the raw JWTs.
 */
export async function signLicenses({ keyFile, n, from = 0, prefix = "bench", sub, channel = "stable", workers = os.availableParallelism?.() ?? 2 }) {
  const per = Math.ceil(n / workers);
  const exp = Math.floor(Date.now() / 1000) + 7 * 24 * 3600;
  const runs = [];
  for (let w = 0; w < workers; w++) {
    const start = from + w * per;
    const end = Math.min(from + n, start + per);
    if (start >= end) break;
    runs.push(
      new Promise((resolve, reject) => {
        const worker = new Worker(new URL("./sign-worker.mjs", import.meta.url), {
          workerData: { keyFile, start, end, exp, prefix, sub, channel, salt: randomBytes(6).toString("hex"), root },
        });
        worker.once("message", (m) => resolve(m.split("\n")));
        worker.once("error", reject);
        worker.once("exit", (c) => c !== 0 && reject(new Error(`sign worker exited ${c}`)));
      }),
    );
  }
  return (await Promise.all(runs)).flat();
}

export function basicHeader(token) {
  return "Basic " + Buffer.from(`license:${token}`).toString("base64");
}

// ---------------------------------------------------------------- stats probe

/**
 * Asks a server started with `--import bench/probe.mjs` for its verifier's
 * cache statistics (hits, misses, size, max): SIGWINCH, then the probe writes
 * the JSON file.
 */
export async function probeStats(server, file) {
  rmSync(file, { force: true });
  process.kill(server.pid, "SIGWINCH");
  for (let i = 0; i < 3000; i++) {
    await sleep(10);
    if (existsSync(file)) {
      try {
        return JSON.parse(readFileSync(file, "utf8"));
      } catch {
        /* being written */
      }
    }
  }
  throw new Error("the stats probe did not answer");
}

/** Runs a measured command to completion (pinned and prioritised like the server); resolves its stdout. */
export function runMeasured(argv, { cwd = root, timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnMeasured(argv, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("exit", (code, signal) => {
      clearTimeout(t);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${argv.join(" ")} failed (${code ?? signal}):\n${stderr}`));
    });
  });
}

/**
 * The license cache's counters. Preferred source: the server's own
 * GET /metrics (chartroom_license_cache_hits_total, chartroom_license_verifications_total{outcome="ok"},
 * chartroom_cache_entries{cache="license"}); misses = verified OK − hits
 * (the benchmark sends only valid licenses). Fallback, for a build without
 * those metrics: bench/probe.mjs (the server must have been started with it).
 */
export async function cacheStats(server, probeFile) {
  try {
    // generous timeout: a fleet-recorder flush can hold the event loop for seconds
    const r = await get(server.port, "/metrics", {}, 30_000);
    if (r.status === 200) {
      const text = r.body.toString("utf8");
      const value = (re) => {
        const m = re.exec(text);
        return m ? Number(m[1]) : undefined;
      };
      const hits = value(/^chartroom_license_cache_hits_total(?:\{\})? ([0-9.e+]+)$/m);
      const ok = value(/^chartroom_license_verifications_total\{outcome="ok"\} ([0-9.e+]+)$/m) ?? 0;
      if (hits !== undefined) {
        return {
          source: "GET /metrics",
          hits,
          misses: ok - hits,
          size: value(/^chartroom_cache_entries\{cache="license",kind="size"\} ([0-9.e+]+)$/m),
          max: value(/^chartroom_cache_entries\{cache="license",kind="max"\} ([0-9.e+]+)$/m),
          specSize: value(/^chartroom_cache_entries\{cache="spec",kind="size"\} ([0-9.e+]+)$/m),
          specMax: value(/^chartroom_cache_entries\{cache="spec",kind="max"\} ([0-9.e+]+)$/m),
        };
      }
    }
  } catch {
    /* no /metrics: use the probe */
  }
  const p = await probeStats(server, probeFile);
  if (!p.verifier) throw new Error("no license cache statistics: neither /metrics nor the probe has them");
  return { source: "bench/probe.mjs (verifier.stats())", ...p.verifier };
}

// ---------------------------------------------------------------- rollout scenario

/** One JSON request to 127.0.0.1 (no keep-alive); resolves { status, json }. */
export function requestJson(port, method, path, headers = {}, body, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const h = { ...headers, ...(data ? { "content-type": "application/json", "content-length": String(data.length) } : {}) };
    const req = http.request({ host: "127.0.0.1", port, path, method, headers: h, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json;
        try {
          json = JSON.parse(text);
        } catch {
          json = text;
        }
        resolve({ status: res.statusCode, json });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(data);
  });
}

/** The rollout scenario's channels: the sample `stable` and `steady`, its twin without a rollout (same name length, same values). */
export const ROLLOUT_CHANNEL = "stable";
export const PLAIN_CHANNEL = "steady";
/** Two releases of the same shape and length: the channels' release and the rollout's target. */
export const ROLLOUT_RELEASES = ["7.0.0", "7.0.1"];
/** The rollout's salt: the same cohort on every server of a run (and of every run). */
export const ROLLOUT_SALT = "bench-rollout";

export function benchRelease(version) {
  return {
    version,
    chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.17.4" },
    images: {
      app: { repository: "wandb/local", tag: version },
      console: { repository: "wandb/console", tag: "2.12.0" },
      weave: { repository: "wandb/weave-python", tag: "0.9.1" },
    },
    values: { app: { resources: { requests: { cpu: "1", memory: "2Gi" } } }, weave: { install: true } },
    notes: `Benchmark release ${version} (bench/lib.mjs): the same bytes as its twin but the version.`,
  };
}

/**
 * Sets a started server up for the rollout scenario through the admin API
 * (docs/api.md §3, §7): the two releases, the channel `steady` with the
 * values of `stable`, both channels promoted to the first release and, with
 * `rollout`, a rollout of `stable` to the second at 50 % (a 30-day bake:
 * it stays at 50 % for the whole run; salt ROLLOUT_SALT). Resolves the
 * rollout (or null) and the admin call it made them with.
 */
export async function setupRolloutChannels(server, keys, { rollout }) {
  const { mintAdminToken } = await import(pathToFileURL(join(root, "dist/admin/admin-token.js")).href);
  const token = mintAdminToken(keys.adminSecret, { sub: "bench", roles: ["admin", "release-engineer", "viewer"], ttlSec: 86400, audience: "chartroom-admin" });
  const auth = { authorization: `Bearer ${token}` };
  const call = async (method, path, body, want) => {
    const r = await requestJson(server.port, method, `/api/v1/admin${path}`, auth, body);
    if (!want.includes(r.status)) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.json).slice(0, 500)}`);
    return r.json;
  };
  const stable = await call("GET", `/channels/${ROLLOUT_CHANNEL}`, undefined, [200]);
  // The sample channels' policy (stable only from beta) is not what this measures: lifted for the bench's own releases.
  await call("PATCH", `/channels/${ROLLOUT_CHANNEL}`, { policy: {} }, [200]);
  await call("POST", "/channels", { name: PLAIN_CHANNEL, description: stable.description, defaultValues: stable.defaultValues }, [201]);
  for (const v of ROLLOUT_RELEASES) await call("POST", "/releases", benchRelease(v), [201]);
  for (const c of [ROLLOUT_CHANNEL, PLAIN_CHANNEL]) await call("POST", `/channels/${c}/promote`, { release: ROLLOUT_RELEASES[0], reason: "bench" }, [200, 201]);
  let started = null;
  if (rollout) {
    started = await call("POST", `/channels/${ROLLOUT_CHANNEL}/promote`, { release: ROLLOUT_RELEASES[1], reason: "bench rollout", rollout: { steps: [{ percent: 50, bake: "30d" }, { percent: 100 }], salt: ROLLOUT_SALT } }, [202]);
  }
  return { started, call };
}

// ---------------------------------------------------------------- upgrade-paths scenario

/** The upgrade-paths scenario's releases: the old one, the required stone, the target (same bytes but the version). */
export const PATH_RELEASES = ["7.0.0", "7.0.1", "7.0.2"];

/**
 * An admin API caller for a started server (docs/api.md §3): a token with
 * every role; `call(method, path, body, wantStatuses)` resolves the JSON or
 * throws with the status and the answer.
 */
export async function adminCaller(server, keys) {
  const { mintAdminToken } = await import(pathToFileURL(join(root, "dist/admin/admin-token.js")).href);
  const token = mintAdminToken(keys.adminSecret, { sub: "bench", roles: ["admin", "release-engineer", "viewer"], ttlSec: 86400, audience: "chartroom-admin" });
  const auth = { authorization: `Bearer ${token}` };
  return async (method, path, body, want) => {
    const r = await requestJson(server.port, method, `/api/v1/admin${path}`, auth, body);
    if (!want.includes(r.status)) throw new Error(`${method} ${path} answered ${r.status}: ${JSON.stringify(r.json).slice(0, 500)}`);
    return r.json;
  };
}
