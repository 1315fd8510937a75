// Racing rollout controls (docs/api.md §7) on SQLite and PostgreSQL: 30
// pause/resume/advance/abort controls at once, from two app instances on one
// PostgreSQL (one app on SQLite), with release-engineer and admin tokens,
// with and without both schedulers stepping the rollout meanwhile. Every control answers
// what the contract lists (200 changed true/false, 409 NO_ACTIVE_ROLLOUT
// once the rollout ended, 403 for force without admin, 423 while frozen),
// never a 500, WRITE_CONFLICT or DATABASE_BUSY; the audit has exactly one
// row per control that answered changed: true, and the audit rows chain
// (each one's `before` is the previous one's `after`: no change was made
// from a stale read); the history has one row per step, abort and
// completion; the final view is what the last change left, and the
// channel's release is the target exactly when a completion happened.
import t, { type Test } from "tap";
import type { LightMyRequestResponse } from "fastify";
import { eachProvider } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { call } from "./admin/fixtures/admin-helpers.js";
import type { RolloutDto } from "../../src/routes/admin/dto/rollouts.js";

const TARGET = "0.59.2";
const STEPS = [{ percent: 10, bake: "1h" }, { percent: 25, bake: "1h" }, { percent: 50, bake: "1h" }, { percent: 75, bake: "1h" }, { percent: 100, bake: "1h" }];

type Control = "pause" | "resume" | "advance" | "abort";
interface Planned {
  control: Control;
  role: "release-engineer" | "admin";
  force: boolean;
  replica: 0 | 1;
  requestId: string;
}
interface Answer extends Planned {
  status: number;
  code: string | undefined;
  changed: boolean | undefined;
  rollout: RolloutDto | undefined;
}
interface AuditRow {
  id: number;
  actor: string;
  action: string;
  requestId: string | null;
  before: { rollout?: string; state: string; step: number } | null;
  after: { rollout: string; state: string; step: number };
}

/**
 * A deterministic mix (a small LCG), so a failure can be replayed. Aborts
 * only from `abortFrom` on: they are sent last, so most controls race a
 * live rollout (the commits may still come in any order).
 */
function plan(seed: number, n: number, controls: Control[], round: string, abortFrom = 0): Planned[] {
  let x = seed;
  const next = () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  return Array.from({ length: n }, (_, i) => {
    let control = controls[Math.floor(next() * controls.length)]!;
    if (control === "abort" && i < abortFrom) control = "pause";
    const role = next() < 0.5 ? "admin" : "release-engineer";
    const force = control === "advance" && next() < 0.3;
    return { control, role, force, replica: (i % 2) as 0 | 1, requestId: `${round}-${i}-${control}${force ? "-force" : ""}-${role}` };
  });
}

async function fire(apps: TestApp[], planned: Planned[]): Promise<Answer[]> {
  return Promise.all(
    planned.map(async (p) => {
      const res: LightMyRequestResponse = await call(apps[p.replica]!, "POST", `/channels/stable/rollout/${p.control}`, {
        role: p.role,
        sub: `${p.role}-${p.requestId}@example.com`,
        requestId: p.requestId,
        body: { reason: `race ${p.requestId}`, ...(p.force ? { force: true } : {}) },
      });
      let body: { code?: string; changed?: boolean; rollout?: RolloutDto } = {};
      try {
        body = res.json();
      } catch {
        /* checked below */
      }
      return { ...p, status: res.statusCode, code: body.code, changed: body.changed, rollout: body.rollout };
    }),
  );
}

async function auditOf(h: TestApp): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  let cursor: string | null = null;
  do {
    const res = await call(h, "GET", `/audit?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { role: "viewer" });
    const page = res.json() as { items: AuditRow[]; nextCursor: string | null };
    rows.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  return rows.filter((r) => r.action.startsWith("rollout.")).reverse();
}

/** One round: start a rollout, race the controls, check everything that must hold after. */
async function round(t: Test, apps: TestApp[], name: string, planned: Planned[], opts: { frozen?: boolean; racingScheduler?: boolean } = {}): Promise<void> {
  const [a, b] = apps as [TestApp, TestApp];
  const start = await call(a, "POST", "/channels/stable/promote", { role: "release-engineer", body: { release: TARGET, reason: name, rollout: { steps: opts.racingScheduler ? STEPS.map((s) => ({ ...s, bake: "0s" })) : STEPS, salt: name } } });
  t.equal(start.statusCode, 202, `${name}: the rollout starts (${start.body.slice(0, 200)})`);
  const id = (start.json() as RolloutDto).id;
  const releaseBefore = (await call(b, "GET", "/channels/stable", { role: "viewer" })).json().release.version as string;
  if (opts.frozen) t.equal((await a.admin("PUT", "/freeze", { reason: "race under a freeze" })).statusCode, 200, "frozen");

  // With 0 s bakes both replicas' schedulers race the controls: each is asked to tick again and again meanwhile.
  let firing = true;
  const tickErrors: unknown[] = [];
  const tickBoth = () => Promise.all([a.ctx.scheduler.tick(), b.ctx.scheduler.tick()]).catch((err: unknown) => void tickErrors.push(err));
  const ticking = opts.racingScheduler
    ? (async () => {
        while (firing) {
          await tickBoth();
          await new Promise((r) => setTimeout(r, 2));
        }
      })()
    : undefined;
  const answers = await fire(apps, planned);
  firing = false;
  await ticking;
  if (opts.racingScheduler) {
    // A rollout the controls left progressing goes on to its end: let it get there before looking.
    for (let i = 0; i < 10; i++) await tickBoth();
    t.same(tickErrors.map(String), [], `${name}: no scheduler tick failed`);
  }

  // 1. Every answer is one the contract lists.
  const bad = answers.filter((x) => {
    if (x.status === 200) return typeof x.changed !== "boolean" || x.rollout?.id !== id;
    if (x.status === 409) return x.code !== "NO_ACTIVE_ROLLOUT";
    if (x.status === 403) return x.code !== "ROLE_REQUIRED" || !(x.force && x.role !== "admin");
    if (x.status === 423) return x.code !== "FROZEN" || !opts.frozen || !(x.control === "resume" || x.control === "advance");
    return true;
  });
  t.same(bad.map((x) => `${x.requestId}: ${x.status} ${x.code ?? ""}`), [], `${name}: every control answers 200, 409 NO_ACTIVE_ROLLOUT, 403 or 423 as appropriate`);
  const tally = new Map<string, number>();
  for (const x of answers) tally.set(`${x.status}${x.status === 200 ? (x.changed ? " changed" : " unchanged") : ` ${x.code}`}`, (tally.get(`${x.status}${x.status === 200 ? (x.changed ? " changed" : " unchanged") : ` ${x.code}`}`) ?? 0) + 1);
  t.comment(`${name}: ${[...tally].map(([k, v]) => `${v}× ${k}`).join(", ")}`);
  const changed = answers.filter((x) => x.status === 200 && x.changed === true);

  // 2. The audit: one row per changed control (by request id), and the rows chain.
  const audit = (await auditOf(a)).filter((r) => r.after?.rollout === id);
  t.equal(audit[0]?.action, "rollout.start", `${name}: the audit begins with the start`);
  const byRequest = audit.filter((r) => r.action !== "rollout.start" && r.actor !== "chartroom-scheduler");
  t.same(byRequest.map((r) => r.requestId).sort(), changed.map((x) => x.requestId).sort(), `${name}: exactly one audit row per control that answered changed: true`);
  const bySchedule = audit.filter((r) => r.actor === "chartroom-scheduler");
  if (!opts.racingScheduler) t.equal(bySchedule.length, 0, `${name}: the scheduler did nothing (1 h bakes)`);
  else t.comment(`${name}: ${bySchedule.length} changes by the schedulers`);
  t.ok(bySchedule.every((r) => r.action === "rollout.step" || r.action === "rollout.complete"), `${name}: the scheduler only steps and completes`);
  const breaks: string[] = [];
  for (let i = 1; i < audit.length; i++) {
    const prev = audit[i - 1]!.after;
    const cur = audit[i]!;
    if (cur.before?.state !== prev.state || cur.before?.step !== prev.step) breaks.push(`${cur.requestId} (${cur.action}) changed ${JSON.stringify(cur.before)} but the previous change left ${JSON.stringify(prev)}`);
  }
  t.same(breaks, [], `${name}: every change was made from the state the one before left (no lost update)`);
  for (const x of changed) {
    const row = audit.find((r) => r.requestId === x.requestId);
    t.match(row?.after, { state: x.rollout?.state, step: x.rollout?.step }, `${name}: ${x.requestId} answered what its audit row says`);
  }
  const ends = audit.filter((r) => r.action === "rollout.abort" || r.action === "rollout.complete");
  t.comment(`${name}: ${audit.length - 1} changes, ended by ${ends.map((r) => r.action).join(", ") || "nothing"}`);
  t.ok(ends.length <= 1, `${name}: at most one end (${ends.map((r) => r.action).join(", ")})`);
  if (ends.length === 1) t.equal(audit.at(-1), ends[0], `${name}: nothing changed after the end`);

  // 3. The final view is what the last change left.
  const last = audit.at(-1)!.after;
  const view = (await call(b, "GET", "/channels/stable/rollout", { role: "viewer" })).json() as RolloutDto;
  t.match(view, { id, state: last.state, step: last.step }, `${name}: the view (${view.state} at step ${view.step}) is what the last change left`);
  const refusedAsEnded = answers.filter((x) => x.code === "NO_ACTIVE_ROLLOUT");
  if (ends.length === 0) t.equal(refusedAsEnded.length, 0, `${name}: no NO_ACTIVE_ROLLOUT while the rollout lasted`);
  const completed = ends[0]?.action === "rollout.complete";
  const channel = (await call(a, "GET", "/channels/stable", { role: "viewer" })).json();
  t.equal(channel.release.version, completed ? TARGET : releaseBefore, `${name}: the channel's release is the target iff the rollout completed`);
  t.equal(channel.rollout?.id ?? null, ends.length ? null : id, `${name}: the channel shows the rollout while it is active`);

  // 4. The history: one rollout-step per step begun, one rollback per abort, one promote per completion.
  const history = ((await call(a, "GET", "/channels/stable/history?limit=200", { role: "viewer" })).json().items as { action: string; reason: string | null }[]).filter((e) => e.reason?.includes(id));
  const stepsBegun = 1 + audit.filter((r) => r.action !== "rollout.start" && r.before && r.after.step !== r.before.step).length;
  t.equal(history.filter((e) => e.action === "rollout-step").length, stepsBegun, `${name}: one rollout-step row per step begun (${stepsBegun})`);
  for (let n = 1; n <= STEPS.length; n++) t.ok(history.filter((e) => e.action === "rollout-step" && e.reason?.includes(`step ${n} of`)).length <= 1, `${name}: step ${n} begun at most once`);
  t.equal(history.filter((e) => e.action === "rollback").length, ends[0]?.action === "rollout.abort" ? 1 : 0, `${name}: one rollback per abort`);
  t.equal(history.filter((e) => e.action === "promote").length, completed ? 1 : 0, `${name}: one promote per completion`);

  // Leave the channel ready for the next round: ended, unfrozen, back on the release it had.
  if (opts.frozen) t.equal((await a.admin("DELETE", "/freeze", { reason: "over" })).statusCode, 200);
  if (!ends.length) t.equal((await call(a, "POST", "/channels/stable/rollout/abort", { role: "release-engineer", body: { reason: `end of ${name}` } })).statusCode, 200, `${name}: aborted to end the round`);
  if (completed) t.equal((await call(a, "POST", "/channels/stable/rollback", { role: "release-engineer", body: { reason: `end of ${name}` } })).statusCode, 200, `${name}: rolled back to end the round`);
}

await eachProvider(t, "30 racing controls from two replicas end in one consistent state", async (t: Test, provider) => {
  const env = { ROLLOUT_TICK_MS: "100" };
  const a = await testApp(t, { provider, env });
  // SQLite is one process per file (README, Deployment): there both "replicas" are the one app. (Two
  // apps in this one process on one file would block each other: better-sqlite3 waits for a lock
  // synchronously, so the app holding it could never finish its transaction.)
  const b = provider === "postgresql" ? await testApp(t, { provider, databaseUrl: a.url, seed: false, env }) : a;
  const apps = [a, b];
  // Mostly pause, resume and advance with an abort or two: an end comes somewhere in the middle, or never.
  await round(t, apps, "mixed", plan(7, 30, ["pause", "resume", "advance", "pause", "resume", "advance", "abort"], "mixed", 20));
  // No abort: enough advances to complete (4 end the 4 first steps, a 5th completes), and controls after the completion.
  await round(t, apps, "to-completion", plan(11, 30, ["pause", "resume", "advance", "pause", "resume"], "to-completion"));
  // Only pause and resume: the rollout never ends, every answer is a 200.
  await round(t, apps, "pause-resume", plan(3, 30, ["pause", "resume"], "pause-resume"));
  // Under a freeze: resume and advance are 423, pause and abort work.
  await round(t, apps, "frozen", plan(5, 30, ["pause", "resume", "advance", "pause", "resume", "abort"], "frozen", 24), { frozen: true });
  // 0 s bakes: the schedulers of both replicas step the rollout while the controls race.
  await round(t, apps, "with-schedulers", plan(13, 30, ["pause", "resume", "resume", "advance", "pause", "resume", "abort"], "with-schedulers", 26), { racingScheduler: true });
});
