// Start-up of the compiled server in a child process: to ready on SQLite
// with the sample channels (time measured, not asserted), a bad
// environment variable (exit 78, one line naming it), and a PostgreSQL
// that is not there (alive, not ready, retrying; SIGTERM still exits 0).
import { setTimeout as delay } from "node:timers/promises";
import t from "tap";
import { admin, ensureBuilt, freePort, get, serverFiles, sqliteEnv, startServer } from "./fixtures/child-server.js";

t.before(ensureBuilt);

const SHUTDOWN_TIMEOUT_MS = 3_000;

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(20);
  }
}

t.test("SQLite with the sample channels: from spawn to ready", async (t) => {
  const files = serverFiles(t);
  const server = startServer(t, sqliteEnv(files, await freePort()));
  const ms = await server.ready(60_000);
  t.comment(`start to ready (empty database: migrations + first boot of channels/): ${ms} ms`);
  t.pass("/readyz answered 200");

  const logs = server.logs();
  t.ok(logs.some((l) => l.msg === "migrations applied"), "the log says the migrations were applied");
  t.ok(logs.some((l) => l.msg === "first boot: declarative channels loaded"), "the log says the sample channels were loaded");
  const res = await admin(server, "GET", "/channels");
  t.equal(res.status, 200, "GET /api/v1/admin/channels answers 200");
  const names = ((JSON.parse(res.body) as { items: { name: string }[] }).items ?? []).map((c) => c.name).sort();
  t.same(names, ["beta", "stable", "unstable"], "the sample channels are there");

  // A second start on the same database: no migrations, no first boot.
  server.signal("SIGTERM");
  const exit = await Promise.race([server.exited, delay(15_000, null, { ref: false })]);
  t.equal(exit?.code, 0, "the first run exits 0 on SIGTERM");
  const again = startServer(t, sqliteEnv(files, await freePort()));
  const ms2 = await again.ready(60_000);
  t.comment(`start to ready (existing database): ${ms2} ms`);
  t.notOk(again.logs().some((l) => l.msg === "first boot: declarative channels loaded"), "the second start does not load channels/ again");
});

t.test("PORT=abc: exit code 78 and one line on stderr naming PORT", async (t) => {
  const files = serverFiles(t);
  const server = startServer(t, sqliteEnv(files, 0, { PORT: "abc" }));
  const exit = await Promise.race([server.exited, delay(30_000, null, { ref: false })]);
  t.ok(exit, "the process exited");
  t.equal(exit?.code, 78, "exit code 78 (EX_CONFIG)");
  const lines = server.stderr().split("\n").filter((l) => l.trim() !== "");
  t.equal(lines.length, 1, `stderr is one line: ${JSON.stringify(lines)}`);
  t.match(lines[0] ?? "", /^chartroom: configuration error: PORT\b/, "it names PORT");
  t.match(lines[0] ?? "", /"abc"/, "…and the value it got");
  t.same(server.lines(), [], "nothing on stdout (no server was started)");
});

t.test("DATABASE_URL at a PostgreSQL port where nothing listens: alive, not ready, retrying; SIGTERM exits 0", async (t) => {
  const files = serverFiles(t);
  const server = startServer(t, sqliteEnv(files, await freePort(), { DATABASE_URL: "postgresql://postgres@127.0.0.1:1/x", SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) }));

  const retries = () => server.logs().filter((l) => l.msg === "database not ready; retrying");
  // Attempt 1 fails at once (connection refused); attempt 2 comes about 1 s later.
  await until("two failed attempts in the log", () => retries().length >= 2 || server.exit !== undefined, 30_000);
  t.equal(server.exit, undefined, "the process is still running");
  t.same(
    retries()
      .slice(0, 2)
      .map((l) => l.attempt),
    [1, 2],
    "the log shows attempt 1 and attempt 2 failing",
  );
  t.ok(retries().every((l) => typeof l.retryInMs === "number" && l.retryInMs > 0), "…each with the delay before the next");

  const health = await get(`${server.base}/healthz`);
  t.equal(health.status, 200, "/healthz answers 200");
  const ready = await get(`${server.base}/readyz`);
  t.equal(ready.status, 503, "/readyz answers 503");
  t.match(JSON.parse(ready.body) as unknown, { status: "not ready" }, `…not ready: ${ready.body}`);

  const signalAt = Date.now();
  server.signal("SIGTERM");
  const exit = await Promise.race([server.exited, delay(SHUTDOWN_TIMEOUT_MS + 2_000, null, { ref: false })]);
  t.ok(exit, `exited within SHUTDOWN_TIMEOUT_MS + 2 s (${SHUTDOWN_TIMEOUT_MS + 2_000} ms)`);
  t.equal(exit?.code, 0, "exit code 0");
  t.equal(exit?.signal, null, "not killed by a signal");
  t.comment(`shutdown while retrying took ${exit ? exit.at - signalAt : "∞"} ms`);
  t.ok(server.logs().some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"), "the log has the shutdown line");
  t.notOk(server.logs().some((l) => l.msg === "chartroom listening"), "it never claimed to be up and serving");
});
