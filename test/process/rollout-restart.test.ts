// SIGKILL in the middle of a rollout step, against the compiled server in a
// child process, on a SQLite file and on PostgreSQL (docs/api.md §7,
// src/services/rollout-scheduler.ts): a rollout whose first step bakes 3 s
// is started over HTTP, the server is killed 1 s in and started again on
// the same database. The step ends about 3 s after the stepStartedAt the
// database holds (not 3 s after the restart: the scheduler keeps nothing in
// memory), the rollout completes, and no history or audit row is doubled.
import { setTimeout as delay } from "node:timers/promises";
import t, { type Test } from "tap";
import { freshDatabase, pgUnavailableReason } from "../helpers/db.js";
import { eventually } from "../helpers/eventually.js";
import { admin, adminToken, basicAuth, ensureBuilt, freePort, get, license, serverFiles, sqliteEnv, startServer, type ChildServer, type ServerFiles } from "./fixtures/child-server.js";

t.before(ensureBuilt);

const TARGET = "0.59.2";
const BAKE_MS = 3000;
const KILL_AFTER_MS = 1000;
/** The scheduler's tick in the children. */
const TICK_MS = 200;
/** Slack for a loaded machine on the "not late" bound (it is not a promise to users). */
const LATE_SLACK_MS = 2000;

interface View {
  id: string;
  state: string;
  step: number;
  stepStartedAt: string;
  endedAt: string | null;
}

async function rolloutOf(server: ChildServer): Promise<View> {
  const res = await admin(server, "GET", "/channels/stable/rollout");
  if (res.status !== 200) throw new Error(`GET rollout: ${res.status} ${res.body.slice(0, 300)}`);
  return JSON.parse(res.body) as View;
}

async function killAndRestart(t: Test, files: ServerFiles, env: Record<string, string>): Promise<void> {
  const first = startServer(t, env);
  await first.ready();
  const engineer = adminToken("release-engineer", "restart@example.com");
  const start = await admin(first, "POST", "/channels/stable/promote", { release: TARGET, reason: "restart test", rollout: { steps: [{ percent: 10, bake: "3s" }, { percent: 100 }], salt: "restart" } }, { token: engineer });
  t.equal(start.status, 202, `the rollout starts: ${start.body.slice(0, 200)}`);
  const started = JSON.parse(start.body) as View;
  const stepStartedAt = Date.parse(started.stepStartedAt);

  // 1 s into the 3 s bake (the clocks are this machine's): still on step 1, then SIGKILL.
  await delay(Math.max(0, stepStartedAt + KILL_AFTER_MS - Date.now()));
  t.match(await rolloutOf(first), { id: started.id, state: "progressing", step: 1 }, "1 s in: still on step 1");
  first.signal("SIGKILL");
  const exit = await first.exited;
  t.equal(exit.signal, "SIGKILL", "the first server died of SIGKILL");
  t.ok(exit.at - stepStartedAt < BAKE_MS, `killed ${exit.at - stepStartedAt} ms into the step, before its bake ended`);

  const spawnedAt = Date.now();
  const second = startServer(t, { ...env, PORT: String(await freePort()) });
  const readyMs = await second.ready();
  const readyAt = spawnedAt + readyMs;
  t.comment(`restarted ${spawnedAt - stepStartedAt} ms after the step began, ready ${readyMs} ms later`);

  const completed = await eventually(async () => (await rolloutOf(second)).state === "completed", { within: 60_000, every: 50 });
  t.ok(completed.ok, `the rollout completes after the restart: ${completed.summary}`);
  const done = await rolloutOf(second);
  t.match(done, { id: started.id, state: "completed", step: 2 });
  // The view's stepStartedAt is now that of step 2: when step 1 ended.
  const ended = Date.parse(done.stepStartedAt);
  const after = ended - stepStartedAt;
  t.ok(after >= BAKE_MS, `step 1 ended ${after} ms after its stored start: not before its bake`);
  t.ok(ended <= Math.max(stepStartedAt + BAKE_MS, readyAt) + LATE_SLACK_MS, `step 1 ended ${ended - readyAt} ms after the restart was ready: at the first ticks once both the bake had passed and the server was up`);
  // The scheduler starts as the server becomes ready (src/context.ts start): one that counted the
  // bake from its own start would end the step about 3 s after readiness, or later.
  t.ok(ended < readyAt + BAKE_MS - 500, `ended ${readyAt + BAKE_MS - ended} ms before "3 s after the restart": counted from the stored start`);

  const history = JSON.parse((await admin(second, "GET", "/channels/stable/history?limit=200")).body).items as { action: string; reason: string | null }[];
  const ofRollout = history.filter((e) => e.reason?.includes(started.id));
  t.same(ofRollout.map((e) => e.action), ["promote", "rollout-step", "rollout-step"], "history: one row per step, one promote, none doubled");
  const audit = JSON.parse((await admin(second, "GET", "/audit?limit=200")).body).items as { action: string; after: { rollout?: string } | null }[];
  t.same(audit.filter((e) => e.after?.rollout === started.id).map((e) => e.action), ["rollout.complete", "rollout.step", "rollout.start"], "audit: one row each");
  const channel = JSON.parse((await admin(second, "GET", "/channels/stable")).body) as { release: { version: string }; rollout: unknown };
  t.equal(channel.release.version, TARGET, "the channel is at the target");
  t.equal(channel.rollout, null, "with no active rollout");
  const poll = await get(`${second.base}/api/v1/operator/channel`, { authorization: basicAuth(license(files.signingKey, "customer-after-restart")) });
  t.equal(poll.status, 200);
  t.equal((JSON.parse(poll.body) as { metadata: { version: string } }).metadata.version, TARGET, "the restarted server serves the target to everyone");
}

t.test("SIGKILL mid-step on SQLite: the step ends 3 s after its stored start, the rollout completes", async (t) => {
  const files = serverFiles(t);
  await killAndRestart(t, files, sqliteEnv(files, await freePort(), { ROLLOUT_TICK_MS: String(TICK_MS) }));
});

const noPg = await pgUnavailableReason();
t.test("SIGKILL mid-step on PostgreSQL: the step ends 3 s after its stored start, the rollout completes", { skip: noPg ? (process.env.CI ? false : `no PostgreSQL (${noPg})`) : false }, async (t) => {
  if (noPg) return void t.fail(`PostgreSQL is required in CI: ${noPg}`);
  const files = serverFiles(t);
  const url = await freshDatabase(t, "postgresql");
  await killAndRestart(t, files, sqliteEnv(files, await freePort(), { ROLLOUT_TICK_MS: String(TICK_MS), DATABASE_URL: url }));
});
