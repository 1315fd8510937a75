// kill -9 during a burst of promotions on SQLite, against the compiled
// server in a child process. After a restart on the same DATA_DIR and
// database: the server gets ready, the channel's release is the one its
// newest history event moved it to, every promotion the client saw
// acknowledged is in the history, each history event of the burst has
// exactly one audit entry, and the database passes integrity_check.
import http from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import Database from "better-sqlite3";
import t from "tap";
import {
  adminToken,
  admin,
  basicAuth,
  ensureBuilt,
  freePort,
  get,
  license,
  serverFiles,
  sqliteEnv,
  startServer,
  type ChildServer,
} from "./fixtures/child-server.js";

t.before(ensureBuilt);

const CHANNEL = "unstable";
const RELEASES = 20;
const WRITERS = 4;
/** SIGKILL once the writers have sent the promotion of this release index. */
const KILL_AT = 10;
const ACTOR = "burst@example.com";
const CHART = { url: "https://charts.example.com", name: "c", version: "1.0.0" };

interface Ack {
  version: string;
  requestId: string;
  status: number;
  changed: boolean | null;
  eventId: number | null;
  error: string | null;
}

/** A promotion with our request id; resolves (never rejects) with what the client saw. */
function promote(server: ChildServer, agent: http.Agent, token: string, version: string, requestId: string, onSent: () => void): Promise<Ack> {
  const payload = JSON.stringify({ release: version, reason: "durability burst" });
  return new Promise((resolve) => {
    const req = http.request(
      `${server.base}/api/v1/admin/channels/${CHANNEL}/promote`,
      {
        method: "POST",
        agent,
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "content-length": String(Buffer.byteLength(payload)),
          "x-request-id": requestId,
        },
        timeout: 20_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c: string) => (body += c));
        res.on("end", () => {
          let changed: boolean | null = null;
          let eventId: number | null = null;
          try {
            const j = JSON.parse(body) as { changed?: boolean; event?: { id?: number } | null };
            changed = j.changed ?? null;
            eventId = j.event?.id ?? null;
          } catch {
            /* not JSON */
          }
          resolve({ version, requestId, status: res.statusCode ?? 0, changed, eventId, error: null });
        });
        res.on("error", (err) => resolve({ version, requestId, status: res.statusCode ?? 0, changed: null, eventId: null, error: err.message }));
      },
    );
    req.on("finish", onSent);
    req.on("timeout", () => req.destroy(new Error("client timeout")));
    req.on("error", (err: NodeJS.ErrnoException) => resolve({ version, requestId, status: 0, changed: null, eventId: null, error: err.code ?? err.message }));
    req.end(payload);
  });
}

t.test("SIGKILL in a burst of promotions: after a restart the channel, its history and the audit log agree", async (t) => {
  const files = serverFiles(t);
  const env = sqliteEnv(files, await freePort());
  const first = startServer(t, env);
  await first.ready();

  // ~20 releases, created one by one before the burst.
  const engineer = adminToken("release-engineer", ACTOR);
  const versions = Array.from({ length: RELEASES }, (_, i) => `1.0.${i}`);
  const ids = new Map<string, string>();
  for (const version of versions) {
    const res = await admin(first, "POST", "/releases", { version, chart: CHART }, { token: engineer });
    if (res.status !== 201) t.fail(`POST /releases ${version}: ${res.status} ${res.body.slice(0, 300)}`);
    ids.set(version, (JSON.parse(res.body) as { id: string }).id);
  }
  t.equal(ids.size, RELEASES, `${RELEASES} releases created`);
  const before = await admin(first, "GET", `/channels/${CHANNEL}`);
  t.equal(before.status, 200, `channel ${CHANNEL} exists (sample channels loaded)`);
  const startVersion = (JSON.parse(before.body) as { release: { version: string } | null }).release?.version ?? null;

  // The burst: WRITERS clients take the next version in turn and promote it,
  // so one runs sequentially fast and the others race it (a lower version
  // that loses the race is refused as a downgrade: 409, not acknowledged).
  const agent = new http.Agent({ keepAlive: true, maxSockets: WRITERS });
  t.teardown(() => agent.destroy());
  const acks: Ack[] = [];
  let next = 0;
  let killed = false;
  let sentBeforeKill = 0;
  async function writer(w: number): Promise<void> {
    while (!killed && next < versions.length) {
      const i = next++;
      const version = versions[i]!;
      const ack = await promote(first, agent, engineer, version, `burst-${version}-w${w}`, () => {
        if (killed) return;
        sentBeforeKill++;
        if (i >= KILL_AT) {
          // Mid-burst: this promotion (and maybe others) is on its way.
          killed = true;
          first.signal("SIGKILL");
        }
      });
      acks.push(ack);
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  const exit = await Promise.race([first.exited, delay(10_000, null, { ref: false })]);
  t.equal(exit?.signal, "SIGKILL", "the first server died of SIGKILL");

  const acknowledged = acks.filter((a) => a.status === 200 && a.changed === true);
  const unanswered = acks.filter((a) => a.status === 0);
  t.comment(
    `${sentBeforeKill} promotions sent before SIGKILL: ${acknowledged.length} acknowledged (changed), ` +
      `${acks.filter((a) => a.status === 409).length} refused (409), ${unanswered.length} unanswered (${[...new Set(unanswered.map((a) => a.error))].join(", ")})`,
  );
  t.ok(acknowledged.length >= 1, "at least one promotion was acknowledged before SIGKILL");
  t.ok(unanswered.length >= 1, "at least one promotion was in flight at SIGKILL");
  const unexpected = acks.filter((a) => a.status !== 0 && a.status !== 200 && a.status !== 409);
  t.same(unexpected.map((a) => `${a.version} ${a.status}`), [], "before the kill every answer was 200 or 409");

  // Restart on the same data directory and database.
  const second = startServer(t, { ...env, PORT: String(await freePort()) });
  const readyMs = await second.ready();
  t.pass(`the restarted server is ready (${readyMs} ms after spawn)`);

  const db = new Database(files.dbFile, { fileMustExist: true });
  t.teardown(() => db.close());
  t.equal(db.pragma("integrity_check", { simple: true }), "ok", "PRAGMA integrity_check is ok");
  t.same(db.pragma("foreign_key_check"), [], "PRAGMA foreign_key_check finds nothing");

  const channel = db.prepare(`SELECT id, releaseId FROM "Channel" WHERE name = ?`).get(CHANNEL) as { id: string; releaseId: string | null };
  const events = db
    .prepare(`SELECT id, action, fromReleaseId, toReleaseId, actor, requestId FROM "ChannelEvent" WHERE channelId = ? ORDER BY id`)
    .all(channel.id) as { id: number; action: string; fromReleaseId: string | null; toReleaseId: string | null; actor: string; requestId: string | null }[];
  const newest = events.at(-1);
  t.ok(newest, "the channel has history");
  t.equal(channel.releaseId, newest?.toReleaseId, "the channel's release is the toReleaseId of its newest history event");

  // Every acknowledged promotion is in the history, as acknowledged.
  const byRequest = new Map(events.filter((e) => e.requestId).map((e) => [e.requestId!, e]));
  const missing = acknowledged.filter((a) => {
    const e = byRequest.get(a.requestId);
    return !e || e.id !== a.eventId || e.toReleaseId !== ids.get(a.version);
  });
  t.same(missing.map((a) => a.requestId), [], `all ${acknowledged.length} acknowledged promotions are in the history`);

  // The burst's history: a chain (each event starts where the previous ended)
  // and exactly one channel.promote audit entry per event.
  const burst = events.filter((e) => e.actor === ACTOR);
  t.ok(burst.length >= acknowledged.length, `${burst.length} history events from the burst (≥ acknowledged; a commit whose answer was lost to the kill may add some)`);
  t.ok(burst.every((e) => e.action === "promote"), "all of them are promotions");
  const startId = startVersion === null ? null : ((db.prepare(`SELECT id FROM "Release" WHERE version = ?`).get(startVersion) as { id: string } | undefined)?.id ?? "?");
  const chainBreaks = burst.filter((e, i) => e.fromReleaseId !== (i === 0 ? startId : burst[i - 1]!.toReleaseId));
  t.same(chainBreaks.map((e) => e.id), [], "the burst is a chain: from the release before it, each event starting where the previous one ended");
  const audit = db
    .prepare(`SELECT requestId, target FROM "AuditEntry" WHERE action = 'channel.promote' AND actor = ?`)
    .all(ACTOR) as { requestId: string | null; target: string }[];
  t.equal(audit.length, burst.length, "one channel.promote audit entry per burst history event");
  const auditByRequest = new Map<string, number>();
  for (const a of audit) auditByRequest.set(a.requestId ?? "", (auditByRequest.get(a.requestId ?? "") ?? 0) + 1);
  const unmatched = burst.filter((e) => auditByRequest.get(e.requestId ?? "") !== 1);
  t.same(unmatched.map((e) => e.requestId), [], "each burst history event has exactly one audit entry with its request id");
  t.ok(audit.every((a) => a.target === CHANNEL), `the audit entries name channel ${CHANNEL}`);

  // The restarted server serves what the database says.
  const current = db.prepare(`SELECT version FROM "Release" WHERE id = ?`).get(channel.releaseId) as { version: string } | undefined;
  t.comment(`channel ${CHANNEL}: ${startVersion} → ${current?.version} (${burst.length} burst events)`);
  const viaApi = await admin(second, "GET", `/channels/${CHANNEL}`);
  t.equal((JSON.parse(viaApi.body) as { release: { version: string } | null }).release?.version, current?.version, "the admin API shows that release");
  const poll = await get(`${second.base}/api/v1/operator/channel`, { authorization: basicAuth(license(files.signingKey, "customer-durable", CHANNEL)) });
  t.equal(poll.status, 200, "an operator poll on the channel answers 200");
  t.equal((JSON.parse(poll.body) as { metadata?: { version?: string } }).metadata?.version, current?.version, "…with that release's spec");
});
