// Cluster mode (CHARTROOM_WORKERS=2, src/cluster.ts) against the compiled
// server on SQLite: two workers answer on one port; a promotion made
// through one reaches the other; /metrics sums both; a worker that dies is
// replaced; SIGTERM stops both gracefully and their polls reach the fleet
// table; a worker that cannot start makes the primary exit with its code.
import Database from "better-sqlite3";
import t from "tap";
import { admin, adminToken, basicAuth, ensureBuilt, freePort, get, license, serverFiles, sqliteEnv, startServer, type ChildServer } from "./fixtures/child-server.js";

t.before(ensureBuilt);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function workerPids(server: ChildServer): number[] {
  return server.logs().filter((l) => l.msg === "worker ready").map((l) => l.workerPid as number);
}

/**
 * Waits for a condition. None of these is a time promised to users (a
 * worker's start, a restart after its back-off, a periodic check): the
 * deadline only catches a cluster that never gets there, and is generous
 * because a worker's start takes well over 10 s on a busy machine.
 */
async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000, server?: ChildServer): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) {
      const tail = server ? `; last log lines:\n${server.lines().slice(-8).join("\n")}` : "";
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
    }
    await sleep(50);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

t.test("two workers share the port and behave as one server", async (t) => {
  const files = serverFiles(t);
  const server = startServer(t, sqliteEnv(files, await freePort(), { CHARTROOM_WORKERS: "2", STATE_CHECK_INTERVAL_MS: "200" }));
  await server.ready();
  const pids = await until("two workers ready", () => (workerPids(server).length === 2 ? workerPids(server) : undefined), 60_000, server);
  t.equal(new Set(pids).size, 2, "two worker processes");
  t.ok(server.logs().some((l) => l.msg === "cluster mode: starting the first worker" && l.workers === 2));
  t.equal(server.logs().filter((l) => l.msg === "migrations applied").length, 1, "only the first worker applied the migrations");
  t.equal(server.logs().filter((l) => l.msg === "first boot: declarative channels loaded").length, 1, "and loaded the channels");

  /** One poll per licensee, each on a new connection; the workers that answered (request ids carry a per-process prefix). */
  async function pollEach(subs: string[]): Promise<Set<string>> {
    const prefixes = new Set<string>();
    for (const sub of subs) {
      const res = await get(`${server.base}/api/v1/operator/channel`, { authorization: basicAuth(license(files.signingKey, sub)) });
      t.equal(res.status, 200, `poll of ${sub}`);
      prefixes.add(String(res.headers["x-request-id"]).split("-")[0]!);
    }
    return prefixes;
  }

  // New connections go to the workers in turn.
  const subs = Array.from({ length: 8 }, (_, i) => `cluster-${i}`);
  t.equal((await pollEach(subs)).size, 2, "both workers answered polls");

  const metrics = await get(`${server.base}/metrics`);
  t.match(metrics.body, /^chartroom_license_verifications_total\{outcome="ok"\} 8$/m, "/metrics sums the polls of both workers");
  t.match(metrics.body, /^chartroom_database_up 1$/m, "a figure every worker reads from the database is not summed");

  // A promotion made through one worker reaches the other's cache.
  const engineer = adminToken("release-engineer", "cluster@example.com");
  const created = await admin(server, "POST", "/releases", { version: "9.9.9", chart: { url: "https://charts.example.com", name: "c", version: "9.9.9" } }, { token: engineer });
  t.equal(created.status, 201, created.body.slice(0, 200));
  // In the sample channels' order: their policies declare unstable → beta → stable.
  for (const channel of ["unstable", "beta", "stable"]) {
    const promoted = await admin(server, "POST", `/channels/${channel}/promote`, { release: "9.9.9", reason: "cluster test" }, { token: engineer });
    t.equal(promoted.status, 200, promoted.body.slice(0, 200));
  }
  const seenBy = await until("the promotion on both workers", async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await get(`${server.base}/api/v1/operator/channel`, { authorization: basicAuth(license(files.signingKey, "cluster-0")) });
      if (res.body.includes("9.9.9")) seen.add(String(res.headers["x-request-id"]).split("-")[0]!);
    }
    return seen.size === 2 ? seen : undefined;
  });
  t.equal(seenBy.size, 2, "both workers serve the promoted release");

  // A worker that dies is replaced; the port keeps answering meanwhile
  // (once the primary knows: a connection handed to a worker at the
  // instant it dies is lost, as with any replica that crashes).
  process.kill(pids[1]!, "SIGKILL");
  await until("the death logged", () => server.logs().find((l) => l.msg === "worker died; restarting it" && l.signal === "SIGKILL"));
  for (let i = 0; i < 4; i++) t.equal((await get(`${server.base}/readyz`)).status, 200, "the other worker answers");
  const replaced = await until("a replacement worker", () => {
    const now = workerPids(server);
    return now.length === 3 ? now[2] : undefined;
  });
  t.ok(alive(replaced), "the replacement runs");

  // Polls answered by both workers now (those of the killed worker that
  // were not yet written died with it, as with kill -9 of one process).
  const late = Array.from({ length: 8 }, (_, i) => `late-${i}`);
  t.equal((await pollEach(late)).size, 2, "the surviving and the new worker both answer");

  // SIGTERM: both workers stop gracefully and flush their fleet records.
  server.signal("SIGTERM");
  const exit = await server.exited;
  t.equal(exit.code, 0, "the primary exits 0");
  t.notOk(alive(pids[0]!) || alive(replaced), "no worker is left running");
  t.equal(server.logs().filter((l) => l.msg === "shutting down" && l.signal === "asked by the cluster primary").length, 2, "each worker shut down gracefully");
  const db = new Database(files.dbFile, { readonly: true });
  t.teardown(() => db.close());
  const recorded = (db.prepare(`SELECT sub FROM "Instance" WHERE sub LIKE 'late-%'`).all() as { sub: string }[]).map((r) => r.sub).sort();
  t.same(recorded, late.sort(), "both workers wrote their fleet records on the way out");
});

t.test("a worker that cannot start stops the cluster with its exit code", async (t) => {
  const files = serverFiles(t);
  const env = sqliteEnv(files, await freePort(), { CHARTROOM_WORKERS: "2", LICENSE_SIGNING_KEY_FILE: `${files.dataDir}/missing.pem` });
  const server = startServer(t, env);
  const exit = await server.exited;
  t.equal(exit.code, 1, "the primary exits with the worker's code");
  t.ok(server.logs().some((l) => l.msg === "a worker failed during start-up; stopping"));
  t.equal(server.logs().filter((l) => l.msg === "worker ready").length, 0);
});

t.test("signals during start-up: SIGHUP does not kill a starting worker; SIGTERM stops the cluster cleanly", async (t) => {
  const files = serverFiles(t);
  const server = startServer(t, sqliteEnv(files, await freePort(), { CHARTROOM_WORKERS: "2" }));
  await until("the primary", () => server.logs().find((l) => l.msg === "cluster mode: starting the first worker"));
  server.signal("SIGHUP");
  await server.ready();
  await until("two workers ready", () => (workerPids(server).length === 2 ? true : undefined), 60_000, server);
  t.notOk(server.logs().some((l) => l.msg === "a worker failed during start-up; stopping"), "the first worker survived the SIGHUP");

  // The primary kills the workers still there SHUTDOWN_TIMEOUT_MS (default 10 s) + 5 s after the signal (src/cluster.ts), and then exits 1.
  const shutdownMs = 10_000;
  const killAfterMs = shutdownMs + 5_000;
  const files2 = serverFiles(t);
  const second = startServer(t, sqliteEnv(files2, await freePort(), { CHARTROOM_WORKERS: "2", SHUTDOWN_TIMEOUT_MS: String(shutdownMs) }));
  await until("the primary", () => second.logs().find((l) => l.msg === "cluster mode: starting the first worker"));
  const signalAt = Date.now();
  second.signal("SIGTERM");
  const exit = await second.exited;
  t.equal(exit.code, 0, "exits 0");
  // From the signal, not from the spawn: the start-up before it is not what is measured.
  t.ok(exit.at - signalAt < killAfterMs, `without waiting for the kill timeout: exited ${exit.at - signalAt} ms after SIGTERM (kill at ${killAfterMs} ms)`);
  t.notOk(second.logs().some((l) => l.msg === "a worker did not stop in time; killing it"), "no worker was killed");
  t.ok(workerPids(second).length <= 1, "no further worker was started");
  for (const pid of workerPids(second)) t.notOk(alive(pid), "no worker left running");
});

t.test("every worker dying: the primary stays and starts new ones; a worker killed during shutdown makes the exit code 1", async (t) => {
  const files = serverFiles(t);
  const server = startServer(t, sqliteEnv(files, await freePort(), { CHARTROOM_WORKERS: "2" }));
  await server.ready();
  const first = await until("two workers ready", () => (workerPids(server).length === 2 ? workerPids(server) : undefined), 60_000, server);
  for (const pid of first) process.kill(pid, "SIGKILL");
  const next = await until("two new workers", () => (workerPids(server).length === 4 ? workerPids(server).slice(2) : undefined), 60_000, server);
  t.equal(server.exit, undefined, "the primary is still running");
  t.equal((await get(`${server.base}/readyz`)).status, 200, "and the port answers again");

  server.signal("SIGTERM");
  process.kill(next[0]!, "SIGKILL");
  const exit = await server.exited;
  t.equal(exit.code, 1, "a worker that did not stop cleanly is an error");
  t.ok(server.logs().some((l) => l.msg === "a worker did not stop cleanly"));
});
