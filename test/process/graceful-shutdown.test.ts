// SIGTERM with requests in flight, against the compiled server in a child
// process: ~200 keep-alive clients poll and read the admin API, SIGTERM
// lands in the middle, and a slow upload is half-sent at that moment.
// Every request the server had been sent before the signal must complete
// with a 2xx, the process must exit 0 within SHUTDOWN_TIMEOUT_MS + 2 s, and
// the fleet records of every poll served must reach the database.
import http from "node:http";
import Database from "better-sqlite3";
import t from "tap";
import {
  adminToken,
  basicAuth,
  ensureBuilt,
  freePort,
  license,
  serverFiles,
  sqliteEnv,
  startServer,
  type ChildServer,
} from "./fixtures/child-server.js";

const SHUTDOWN_TIMEOUT_MS = 5_000;
const WORKERS = 200;
const SUBS = 10;

t.before(ensureBuilt);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface Outcome {
  kind: "poll" | "admin";
  sub: string | null;
  /** The request's bytes were handed to the kernel before SIGTERM was sent. */
  sentBeforeSignal: boolean;
  /** The answer (or the error) came after SIGTERM was sent. */
  doneAfterSignal: boolean;
  status: number;
  error: string | null;
}

/**
 * One request on a keep-alive agent. `sent` is set when the request has
 * been fully written to the socket ('finish'), which on loopback means it
 * is in the server's receive buffer.
 */
function keepAliveGet(agent: http.Agent, url: string, headers: Record<string, string>, onSent: () => void): Promise<{ status: number; error: string | null }> {
  return new Promise((resolve) => {
    const req = http.request(url, { agent, headers, timeout: 20_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, error: null }));
      res.on("error", (err) => resolve({ status: res.statusCode ?? 0, error: `response: ${(err as NodeJS.ErrnoException).code ?? err.message}` }));
    });
    req.on("finish", onSent);
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", (err) => resolve({ status: 0, error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end();
  });
}

/** A POST whose body is sent in two halves: the second only when `rest` resolves. */
function slowUpload(server: ChildServer, path: string, body: unknown, requestId: string, rest: Promise<void>) {
  const payload = Buffer.from(JSON.stringify(body));
  const half = Math.floor(payload.length / 2);
  return new Promise<{ status: number; body: string; at: number }>((resolve, reject) => {
    const req = http.request(
      `${server.base}${path}`,
      {
        method: "POST",
        agent: false,
        headers: {
          authorization: `Bearer ${adminToken("release-engineer")}`,
          "content-type": "application/json",
          "content-length": String(payload.length),
          "x-request-id": requestId,
        },
        timeout: 20_000,
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text, at: Date.now() }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error("slow upload: client timeout")));
    req.on("error", reject);
    req.write(payload.subarray(0, half));
    void rest.then(() => req.end(payload.subarray(half)));
  });
}

async function until(what: string, check: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

t.test("SIGTERM with ~200 keep-alive clients in flight: no request lost, fleet records flushed, exit 0", async (t) => {
  const files = serverFiles(t);
  const port = await freePort();
  const server = startServer(t, sqliteEnv(files, port, { SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS) }));
  await server.ready();

  const channels = ["stable", "beta", "unstable"];
  const subs = Array.from({ length: SUBS }, (_, i) => `customer-${i}`);
  const auth = new Map(subs.map((s, i) => [s, basicAuth(license(files.signingKey, s, channels[i % channels.length]))]));
  const viewer = `Bearer ${adminToken("viewer")}`;
  const adminPaths = ["/api/v1/admin/channels", "/api/v1/admin/releases", "/api/v1/admin/channels/stable", "/api/v1/admin/audit?limit=5"];

  const agent = new http.Agent({ keepAlive: true, maxSockets: WORKERS + 16 });
  t.teardown(() => agent.destroy());

  const outcomes: Outcome[] = [];
  let signalled = false;
  let exited = false;
  void server.exited.then(() => (exited = true));

  async function worker(i: number): Promise<void> {
    for (let n = 0; !exited; n++) {
      const poll = (i + n) % 8 !== 0;
      const sub = poll ? subs[(i + n) % subs.length]! : null;
      const url = poll ? `${server.base}/api/v1/operator/channel` : `${server.base}${adminPaths[(i + n) % adminPaths.length]}`;
      const headers: Record<string, string> = poll ? { authorization: auth.get(sub!)!, "user-agent": "Go-http-client/1.1" } : { authorization: viewer };
      let sentBeforeSignal = false;
      const r = await keepAliveGet(agent, url, headers, () => (sentBeforeSignal = !signalled));
      outcomes.push({ kind: poll ? "poll" : "admin", sub, sentBeforeSignal, doneAfterSignal: signalled, ...r });
      // After the signal a worker stops at its first refusal: the server is going away.
      if (signalled && (r.error !== null || r.status >= 300)) return;
    }
  }

  const started = Date.now();
  const workers = Array.from({ length: WORKERS }, (_, i) => worker(i));

  // Let the traffic build up, and start a slow upload: headers and half a
  // body now, the rest a second after SIGTERM.
  let sendRest!: () => void;
  const rest = new Promise<void>((r) => (sendRest = r));
  const slowId = "slow-upload-during-shutdown";
  const slow = slowUpload(server, "/api/v1/admin/releases", { version: "2.0.0", chart: { url: "https://charts.example.com", name: "c", version: "1.0.0" }, notes: "x".repeat(4096) }, slowId, rest);
  await until("2000 completed requests", () => outcomes.length >= 2000, 60_000);
  console.error("DEBUG 3000 after", Date.now() - started, server.lines.filter((l) => l.includes("slow-upload")), server.lines.length, server.logs().length, server.lines.slice(-3));
  // The server has routed the slow request (it logs "incoming request" with our id).
  await until("the slow upload to be routed", () => server.logs().some((l) => l.reqId === slowId && l.msg === "incoming request"), 10_000);
  const beforeSignal = outcomes.length;

  signalled = true;
  const signalAt = Date.now();
  server.signal("SIGTERM");
  t.comment(`SIGTERM after ${signalAt - started} ms of traffic (${beforeSignal} requests completed by then)`);

  await sleep(1_000);
  sendRest();
  console.error("DEBUG rest sent");
  const slowResult = await slow;
  console.error("DEBUG slow done", slowResult.status);
  const exit = await server.exited;
  console.error("DEBUG exited", exit);
  await Promise.all(workers);
  console.error("DEBUG workers done");
  const shutdownMs = exit.at - signalAt;
  t.comment(`shutdown took ${shutdownMs} ms (slow upload answered ${slowResult.at - signalAt} ms after SIGTERM)`);

  // The process: exit 0, in time, and it said why.
  t.equal(exit.code, 0, "exit code 0");
  t.equal(exit.signal, null, "exited by itself, not killed by a signal");
  t.ok(shutdownMs <= SHUTDOWN_TIMEOUT_MS + 2_000, `exited ${shutdownMs} ms after SIGTERM (limit ${SHUTDOWN_TIMEOUT_MS + 2_000})`);
  const logs = server.logs();
  t.ok(logs.some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"), 'log has {"msg":"shutting down","signal":"SIGTERM"}');
  t.notOk(logs.some((l) => typeof l.msg === "string" && /killed by timeout/.test(l.msg)), "not killed by the shutdown timeout");

  // Every request sent before the signal completed with a 2xx.
  const sentBefore = outcomes.filter((o) => o.sentBeforeSignal);
  const lost = sentBefore.filter((o) => o.error !== null || o.status < 200 || o.status >= 300);
  t.ok(sentBefore.length >= 2000, `${sentBefore.length} requests were sent before SIGTERM`);
  t.ok(sentBefore.filter((o) => o.kind === "poll").length > 0 && sentBefore.filter((o) => o.kind === "admin").length > 0, "both polls and admin reads were sent");
  const inFlight = sentBefore.filter((o) => o.doneAfterSignal).length;
  t.comment(`${inFlight} requests were on the wire or being served at SIGTERM; ${outcomes.length - sentBefore.length} were sent after it`);
  t.ok(inFlight > 0, "some requests were in flight at SIGTERM");
  const summary = new Map<string, number>();
  for (const o of lost) summary.set(`${o.kind} ${o.error ?? o.status}`, (summary.get(`${o.kind} ${o.error ?? o.status}`) ?? 0) + 1);
  t.same(Object.fromEntries(summary), {}, "no request sent before SIGTERM failed, was reset or refused");

  // The slow upload: in flight at the signal, completed after it.
  t.equal(slowResult.status, 201, `the slow upload in flight at SIGTERM completed: ${slowResult.body.slice(0, 200)}`);
  t.ok(slowResult.at - signalAt >= 1_000, "…after the rest of its body arrived, a second after SIGTERM");

  // Fleet records: every poll served (before or after the signal) was flushed.
  const served = new Map<string, number>();
  for (const o of outcomes) if (o.kind === "poll" && o.status === 200) served.set(o.sub!, (served.get(o.sub!) ?? 0) + 1);
  const db = new Database(files.dbFile, { fileMustExist: true });
  try {
    const rows = db.prepare(`SELECT sub, pollCount FROM "Instance" ORDER BY sub`).all() as { sub: string; pollCount: number }[];
    const recorded = Object.fromEntries(rows.map((r) => [r.sub, r.pollCount]));
    const expected = Object.fromEntries([...served.entries()].sort(([a], [b]) => a.localeCompare(b)));
    t.comment(`polls served: ${[...served.values()].reduce((a, b) => a + b, 0)} over ${served.size} licensees`);
    t.same(recorded, expected, "Instance.pollCount equals the polls served, per licensee");
    const release = db.prepare(`SELECT version FROM "Release" WHERE version = '2.0.0'`).get();
    t.ok(release, "the release of the slow upload was committed before the database closed");
  } finally {
    db.close();
  }
});
