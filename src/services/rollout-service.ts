// Staged rollouts (docs/api.md §7): starting one (from a promotion, in the
// promotion's transaction), the controls (pause, resume, advance, abort),
// the scheduler's progression, and the views. The rules of what may happen
// are src/services/rollout-rules.ts; who gets what while a rollout runs is
// src/services/resolve-release.ts. Every change here is one transaction
// that bumps the channel's row version against the one it read (two writers
// that read the same rollout cannot both act on it), writes its history and
// audit rows, and bumps the catalog version so every replica's spec cache
// forgets within a second (src/services/state-watcher.ts and the LISTEN of
// src/db/state-listener.ts).
import { randomUUID } from "node:crypto";
import { ChannelNotFoundError, DatabaseBusyError, GatesFailingError, NoActiveRolloutError, RoleRequiredError, RolloutNotFoundError, WriteConflictError } from "../errors.js";
import type { Channel, GateSpec, Release, RolloutInput } from "../domain/schemas.js";
import type { Page, PageRequest } from "../repositories/paging.js";
import type { Repos, Store } from "../repositories/store.js";
import type { Rollout, RolloutChange } from "../repositories/rollouts-repo.js";
import { decideControl, decideProgress, nextStepAt, type RolloutControl, type Transition } from "./rollout-rules.js";
import { freezeAt, frozenError } from "./freeze-service.js";
import { rolloutCohortTest, type RolloutFacts } from "./resolve-release.js";
import type { Actor } from "./catalog-service.js";
import { subjectOf, type WebhookEventType } from "../domain/webhook-events.js";
import { currentResults, gateName, gatesOf, gatesVerdict, sameResults, type GateResult, type GatesVerdict } from "./gate-rules.js";
import { gateEvaluator, type GateEvaluator, type GateSubject } from "./gate-evaluator.js";

/** The actor of what the scheduler does on its own (audit and history). */
export const SCHEDULER_ACTOR = "chartroom-scheduler";

/** The licensees of the channel's fleet, as the rollout view counts them. */
export interface RolloutCounts {
  licensees: number;
  inCohort: number;
  servedTarget: number;
  /**
   * Licensees of the channel whose latest health report on the target
   * (docs/api.md §9) is healthy / failed: reports sent with a license of
   * this channel (src/repositories/reports-repo.ts, countsOn).
   */
  healthy: number;
  failed: number;
}

/** A rollout with its channel and releases resolved, as the API shows it. */
export interface RolloutView extends Rollout {
  channel: string;
  release: Release;
  previous: Release | null;
  percent: number;
  nextStepAt: Date | null;
  counts?: RolloutCounts;
  /** The current step's gates, each with its last evaluation (docs/api.md §9). */
  gateView: GateView[];
}

/** One gate of the current step as the view shows it: where it was written, the spec, its last evaluation. */
export interface GateView extends GateResult {
  scope: "rollout" | "step";
  spec: GateSpec;
}

/** The resolver's facts of a rollout at its current step. */
export function rolloutFacts(r: Rollout, target: Pick<Release, "id" | "version">): RolloutFacts {
  return {
    id: r.id,
    target: { id: target.id, version: target.version },
    state: r.state,
    percent: r.steps[r.step]!.percent,
    include: new Set(r.include),
    exclude: new Set(r.exclude),
    salt: r.salt,
  };
}

function stepText(r: Pick<Rollout, "id" | "steps">, step: number): string {
  return `rollout ${r.id} step ${step + 1} of ${r.steps.length}: ${r.steps[step]!.percent} %`;
}

/** What a webhook gate and a notification say of a rollout. */
function rolloutPicture(r: Rollout, release: string, previous: string | null) {
  return { id: r.id, release, previous, state: r.state, step: r.step + 1, steps: r.steps.length, percent: r.steps[r.step]!.percent };
}

/** The audit entry's picture of a rollout. */
function audited(r: Rollout) {
  return { rollout: r.id, state: r.state, step: r.step + 1, percent: r.steps[r.step]!.percent };
}

/** Takes the channel: its row version must still be the one read, or another writer won. */
async function takeChannel(repos: Pick<Repos, "channels">, channel: Channel): Promise<void> {
  if (!(await repos.channels.touch(channel.id, channel.rowVersion))) throw new WriteConflictError();
}

/**
 * Tells the webhooks of a rollout's change (docs/api.md §10), in the
 * caller's transaction: one outbox row, committed with the change or not at all.
 */
async function rolloutEvent(repos: Pick<Repos, "outbox" | "releases">, type: WebhookEventType, channel: Channel, r: Rollout, by: string, reason: string | null): Promise<void> {
  const target = await repos.releases.findByRef(r.releaseId);
  const previous = r.previousReleaseId ? await repos.releases.findByRef(r.previousReleaseId) : null;
  const rollout = rolloutPicture(r, target?.version ?? r.releaseId, previous?.version ?? null);
  await repos.outbox.add(type, subjectOf.channel(channel.name), { channel: channel.name, rollout, reason, by });
}

export interface StartFacts {
  channel: Channel;
  current: Release | null;
  target: Release;
  input: RolloutInput;
  reason: string | undefined;
  actor: Actor;
  now: Date;
}

/**
 * Starts a rollout in the caller's transaction (a promotion that passed its
 * rules, src/services/catalog-service.ts): its first step begins now.
 */
export async function startRollout(repos: Repos, f: StartFacts): Promise<Rollout> {
  await takeChannel(repos, f.channel);
  const id = randomUUID();
  const rollout = await repos.rollouts.create({
    id,
    channelId: f.channel.id,
    releaseId: f.target.id,
    previousReleaseId: f.current?.id ?? null,
    state: "progressing",
    step: 0,
    // A step's gates are kept only where it has some: a rollout without gates reads as before them.
    steps: f.input.steps.map((s) => ({ percent: s.percent, bake: s.bake, ...(s.gates && s.gates.length > 0 ? { gates: s.gates } : {}) })),
    include: [...new Set(f.input.include)],
    exclude: [...new Set(f.input.exclude)],
    salt: f.input.salt ?? id,
    reason: f.reason ?? null,
    startedBy: f.actor.sub,
    startedAt: f.now,
    stepStartedAt: f.now,
    endedAt: null,
    endedBy: null,
    endReason: null,
    gates: f.input.gates,
    onFailure: f.input.onFailure,
    gateResults: null,
  });
  await repos.events.add({ channelId: f.channel.id, action: "rollout-step", fromReleaseId: f.current?.id ?? null, toReleaseId: f.target.id, actor: f.actor.sub, reason: stepText(rollout, 0), requestId: f.actor.requestId ?? null });
  await repos.audit.add({
    actor: f.actor.sub,
    action: "rollout.start",
    targetType: "channel",
    target: f.channel.name,
    before: { release: f.current?.version ?? null },
    after: { ...audited(rollout), release: f.target.version, steps: rollout.steps, include: rollout.include, exclude: rollout.exclude, salt: rollout.salt, reason: f.reason ?? null },
    requestId: f.actor.requestId,
  });
  await rolloutEvent(repos, "rollout.started", f.channel, rollout, f.actor.sub, f.reason ?? null);
  return rollout;
}

export interface TransitionFacts {
  channel: Channel;
  rollout: Rollout;
  transition: Transition;
  actor: Actor;
  /** The person's reason, or what the scheduler says. */
  reason: string;
  now: Date;
  /** The audit action ("rollout.pause", "rollout.step", …). */
  action: string;
}

/** The event a transition notifies (pause and resume notify none: they are not in docs/api.md §10). */
const EVENT_OF: Record<Transition["kind"], WebhookEventType | undefined> = { pause: undefined, resume: undefined, halt: "rollout.halted", step: "rollout.step", complete: "rollout.completed", abort: "rollout.aborted" };

async function versionOf(repos: Pick<Repos, "releases">, id: string | null): Promise<string | null> {
  return id ? ((await repos.releases.findByRef(id))?.version ?? id) : null;
}

/** Writes one transition of a rollout in the caller's transaction; answers the rollout after it. */
export async function writeTransition(repos: Repos, f: TransitionFacts): Promise<{ rollout: Rollout; moved: boolean }> {
  const { channel, rollout: r, transition: t, actor, now } = f;
  let change: RolloutChange;
  let moved = false;
  const event = (action: "rollout-step" | "promote" | "rollback", from: string | null, to: string | null, reason: string, by = actor.sub) =>
    repos.events.add({ channelId: channel.id, action, fromReleaseId: from, toReleaseId: to, actor: by, reason, requestId: actor.requestId ?? null });
  switch (t.kind) {
    case "pause":
      await takeChannel(repos, channel);
      change = { state: "paused" };
      break;
    case "resume":
      await takeChannel(repos, channel);
      // The gates start over (docs/decisions.md): a resumed rollout, halted or paused, is evaluated afresh at the next tick.
      change = { state: "progressing", gateResults: { step: r.step, results: [] } };
      break;
    case "halt":
      await takeChannel(repos, channel);
      change = { state: "halted" };
      break;
    case "step":
      await takeChannel(repos, channel);
      // A new step's gates are pending until evaluated.
      change = { step: t.step, stepStartedAt: now, state: t.state, gateResults: { step: t.step, results: [] } };
      await event("rollout-step", channel.releaseId, r.releaseId, `${stepText(r, t.step)} (${f.reason})`);
      break;
    case "complete":
      // The channel's release becomes the target, guarded by the same row version.
      if (!(await repos.channels.setRelease(channel.id, r.releaseId, channel.rowVersion))) throw new WriteConflictError();
      change = { state: "completed", endedAt: now, endedBy: actor.sub, endReason: f.reason };
      // History: a promote by whoever started the rollout (docs/api.md §7).
      await event("promote", channel.releaseId, r.releaseId, `rollout ${r.id} completed${r.reason ? `: ${r.reason}` : ""}`, r.startedBy);
      moved = true;
      break;
    case "abort":
      await takeChannel(repos, channel);
      change = { state: "aborted", endedAt: now, endedBy: actor.sub, endReason: f.reason };
      await event("rollback", r.releaseId, channel.releaseId, `rollout ${r.id} aborted: ${f.reason}`);
      break;
  }
  const after = await repos.rollouts.update(r.id, change);
  await repos.audit.add({ actor: actor.sub, action: f.action, targetType: "channel", target: channel.name, before: audited(r), after: { ...audited(after), reason: f.reason }, requestId: actor.requestId });
  // Notifications (docs/api.md §10).
  const notified = EVENT_OF[t.kind];
  if (notified) await rolloutEvent(repos, notified, channel, after, actor.sub, f.reason);
  if (t.kind === "complete") await repos.outbox.add("channel.promoted", subjectOf.channel(channel.name), { channel: channel.name, from: await versionOf(repos, channel.releaseId), to: await versionOf(repos, r.releaseId), action: "promote", reason: `rollout ${r.id} completed${r.reason ? `: ${r.reason}` : ""}`, by: r.startedBy });
  return { rollout: after, moved };
}

/** The audit action of a control's or the scheduler's transition. */
function actionOf(t: Transition, control: RolloutControl | "progress"): string {
  if (t.kind === "complete") return "rollout.complete";
  if (t.kind === "halt") return "rollout.halt";
  if (t.kind === "abort") return "rollout.abort";
  if (control === "progress") return "rollout.step";
  return `rollout.${control}`;
}

type RolloutStore = Pick<Store, "transaction" | "channels" | "releases" | "rollouts" | "fleet" | "freeze" | "reports">;

export interface RolloutServiceOptions {
  /** After every committed change: this replica's caches must forget. */
  onChange?: () => void;
  /** After a rollout completed (the channel was promoted). */
  onMoved?: (action: "promote") => void;
  now?: () => Date;
  /** Evaluates the gates (src/services/gate-evaluator.ts); default: every 10 s, private addresses allowed. */
  gates?: GateEvaluator;
  /** A gate evaluation that failed unexpectedly (the next tick tries again). */
  onGateError?: (err: unknown, rolloutId: string) => void;
}

/** A tick's evaluation of a rollout's gates, made outside the transaction, for the step it was made for. */
interface Evaluated {
  step: number;
  stepStartedAt: number;
  results: GateResult[];
}

/** How many times a control is tried when another writer changed the rollout under it. */
const CONTROL_ATTEMPTS = 5;

export function rolloutService(store: RolloutStore, opts: RolloutServiceOptions = {}) {
  const now = opts.now ?? (() => new Date());
  const onChange = opts.onChange ?? (() => {});
  const onMoved = opts.onMoved ?? (() => {});
  const gates = opts.gates ?? gateEvaluator({ reports: store.reports, intervalMs: 10_000, denyPrivate: false });

  async function channelOrThrow(repos: Pick<Repos, "channels">, name: string): Promise<Channel> {
    const c = await repos.channels.findByName(name);
    if (!c) throw new ChannelNotFoundError(name);
    return c;
  }

  async function viewOf(repos: Pick<Repos, "releases">, channel: Channel, r: Rollout): Promise<RolloutView> {
    const [release, previous] = await Promise.all([repos.releases.findByRef(r.releaseId), r.previousReleaseId ? repos.releases.findByRef(r.previousReleaseId) : null]);
    if (!release) throw new Error(`rollout ${r.id}: its release ${r.releaseId} is missing`);
    const ownCount = r.gates.length;
    const gateView = currentResults(gatesOf(r), r.gateResults, r.step).map((g, i): GateView => ({ ...g, scope: i < ownCount ? "rollout" : "step", spec: gatesOf(r)[i]! }));
    return { ...r, channel: channel.name, release, previous, percent: r.steps[r.step]!.percent, nextStepAt: nextStepAt(r), gateView };
  }

  /**
   * Evaluates the current step's gates of `r` now, outside any transaction
   * (HTTP calls with their timeouts); `all`: every gate, due or not (an advance).
   */
  async function evaluateGates(r: Rollout, at: Date, all = false): Promise<Evaluated> {
    const specs = gatesOf(r);
    const previous = currentResults(specs, r.gateResults, r.step);
    const [channel, release, prev] = await Promise.all([store.channels.findById(r.channelId), store.releases.findByRef(r.releaseId), r.previousReleaseId ? store.releases.findByRef(r.previousReleaseId) : null]);
    const subject: GateSubject = {
      channel: channel?.name ?? r.channelId,
      release: { id: r.releaseId, version: release?.version ?? r.releaseId },
      rollout: rolloutPicture(r, release?.version ?? r.releaseId, prev?.version ?? null),
    };
    return { step: r.step, stepStartedAt: r.stepStartedAt.getTime(), results: await gates.evaluate(specs, previous, subject, at, all) };
  }

  /** Counts over the channel's fleet: who is known, in the cohort, served the target, reports healthy or failed on it. */
  async function countsOf(channel: Channel, view: RolloutView): Promise<RolloutCounts> {
    const [fleet, reports] = await Promise.all([store.fleet.servedOn(channel.name), store.reports.countsOn(view.releaseId, { channel: channel.name })]);
    // The poll's own compiled cohort test (src/services/resolve-release.ts): one hash per licensee, no BigInt.
    const isIn = rolloutCohortTest(rolloutFacts(view, view.release));
    let inCohort = 0;
    let servedTarget = 0;
    for (const e of fleet) {
      if (isIn(e.sub)) inCohort++;
      if (e.releaseId === view.releaseId) servedTarget++;
    }
    return { licensees: fleet.length, inCohort, servedTarget, healthy: reports.healthy, failed: reports.failed };
  }

  /** Runs `fn` in a transaction; commits tell the caches. A lost race is tried again from fresh reads. */
  async function committed<T>(fn: (repos: Repos) => Promise<{ value: T; changed: boolean; moved?: boolean }>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        const out = await store.transaction(async (repos) => {
          const r = await fn(repos);
          if (r.changed) await repos.state.bump("catalog");
          return r;
        });
        if (out.changed) onChange();
        if (out.moved) onMoved("promote");
        return out.value;
      } catch (err) {
        if (!(err instanceof WriteConflictError) || attempt >= CONTROL_ATTEMPTS) throw err;
        // Another writer of the channel (a promotion, a rollback, the scheduler) won: wait a little, jittered, so the retries spread.
        await new Promise((r) => setTimeout(r, Math.min(200, 10 * 2 ** attempt) * (0.5 + Math.random())));
      }
    }
  }

  /**
   * One step of the scheduler for one rollout: ends its step when the rules
   * say so. On PostgreSQL the transaction first takes the channel's
   * progression lock without waiting (src/repositories/rollouts-repo.ts):
   * a replica already on it makes this one skip.
   */
  async function progressOne(rolloutId: string, channelId: string, evaluated?: Evaluated): Promise<Rollout | undefined> {
    try {
      return await committed(async (repos) => {
        if (!(await repos.rollouts.tryLockProgress(channelId))) return { value: undefined, changed: false };
        // The channel before its rollout: the row version then guards what was read of the rollout. (Read
        // after it, a change committed between the two reads would bring a newer version with the older
        // rollout, and the step would be written over that change: a second completion, or an aborted
        // rollout stepped again.)
        const channel = await repos.channels.findById(channelId);
        if (!channel) return { value: undefined, changed: false };
        const r = await repos.rollouts.activeOf(channelId);
        if (!r || r.id !== rolloutId) return { value: undefined, changed: false };
        const at = now();
        let gatesPass = true;
        if (evaluated) {
          // Evaluated for another step, or a person moved the rollout meanwhile: the next tick evaluates again.
          if (r.state !== "progressing" || r.step !== evaluated.step || r.stepStartedAt.getTime() !== evaluated.stepStartedAt) return { value: undefined, changed: false };
          const stored = currentResults(gatesOf(r), r.gateResults, r.step);
          if (!sameResults(stored, evaluated.results)) await repos.rollouts.update(r.id, { gateResults: { step: r.step, results: evaluated.results } });
          const verdict = gatesVerdict(evaluated.results);
          // A failed gate applies onFailure at once, bake or not, frozen or not: halting and aborting make no progress.
          if (verdict.kind === "fail") return failed(repos, channel, r, verdict, at);
          gatesPass = verdict.kind === "pass";
        }
        const frozen = freezeAt(await repos.freeze.read("share"), at).frozen;
        const d = decideProgress({ rollout: r, now: at, frozen, gatesPass });
        if (d.kind === "wait") return { value: undefined, changed: false };
        const reason = d.transition.kind === "complete" ? `the last step's bake passed` : `the bake of step ${r.step + 1} (${r.steps[r.step]!.bake}) passed`;
        const out = await writeTransition(repos, { channel, rollout: r, transition: d.transition, actor: { sub: SCHEDULER_ACTOR }, reason, now: at, action: actionOf(d.transition, "progress") });
        return { value: out.rollout, changed: true, moved: out.moved };
      });
    } catch (err) {
      // Another replica or a person changed it first: the next tick reads it again.
      if (err instanceof WriteConflictError || err instanceof DatabaseBusyError) return undefined;
      throw err;
    }
  }

  /** A gate failed: onFailure halt halts the rollout, rollback aborts it; the reason names the gate. */
  async function failed(repos: Repos, channel: Channel, r: Rollout, verdict: Extract<GatesVerdict, { kind: "fail" }>, at: Date) {
    const transition: Transition = r.onFailure === "rollback" ? { kind: "abort" } : { kind: "halt" };
    const reason = `${gateName(verdict.index, verdict.gate)} of step ${r.step + 1} failed: ${verdict.detail}`;
    const out = await writeTransition(repos, { channel, rollout: r, transition, actor: { sub: SCHEDULER_ACTOR }, reason, now: at, action: actionOf(transition, "progress") });
    return { value: out.rollout, changed: true, moved: out.moved };
  }

  return {
    /** The active or last rollout of the channel, with counts; 404 ROLLOUT_NOT_FOUND if it never had one. */
    async current(channelName: string): Promise<RolloutView> {
      const channel = await channelOrThrow(store, channelName);
      const r = await store.rollouts.latestOf(channel.id);
      if (!r) throw new RolloutNotFoundError(channelName);
      const view = await viewOf(store, channel, r);
      return { ...view, counts: await countsOf(channel, view) };
    },

    /** Every rollout of the channel, newest first. */
    async list(channelName: string, page: PageRequest): Promise<Page<RolloutView>> {
      const channel = await channelOrThrow(store, channelName);
      const p = await store.rollouts.list(channel.id, page);
      return { items: await Promise.all(p.items.map((r) => viewOf(store, channel, r))), nextCursor: p.nextCursor };
    },

    /** Every active rollout: channel, target version, state and percent (the metrics). */
    async activeSummary(): Promise<{ channel: string; release: string; state: string; percent: number }[]> {
      const active = await store.rollouts.allActive();
      if (active.length === 0) return [];
      const [channels, releases] = await Promise.all([store.channels.list(), store.releases.findByIds(active.map((r) => r.releaseId))]);
      const names = new Map(channels.map((c) => [c.id, c.name]));
      const versions = new Map(releases.map((r) => [r.id, r.version]));
      return active.map((r) => ({ channel: names.get(r.channelId) ?? r.channelId, release: versions.get(r.releaseId) ?? r.releaseId, state: r.state, percent: r.steps[r.step]!.percent }));
    },

    /** A person's pause, resume, advance or abort (release-engineer; advance with force: admin). */
    async control(channelName: string, control: RolloutControl, input: { reason: string; force?: boolean | undefined }, actor: Actor & { isAdmin: boolean }): Promise<{ rollout: RolloutView; changed: boolean; message: string }> {
      // An advance without force needs the current step's gates passing: they are asked now, outside the transaction.
      let asked: Evaluated | undefined;
      if (control === "advance" && !input.force) {
        const active = await store.rollouts.activeOf((await channelOrThrow(store, channelName)).id);
        if (active && gatesOf(active).length > 0 && active.state !== "halted") asked = await evaluateGates(active, now(), true);
      }
      const out = await committed(async (repos) => {
        // One control of a channel at a time (PostgreSQL): the channel is read again once the lock is held,
        // so racing controls queue up instead of losing to each other's row version.
        const named = await channelOrThrow(repos, channelName);
        await repos.rollouts.lockProgress(named.id);
        const channel = (await repos.channels.findById(named.id)) ?? named;
        const at = now();
        // Resume and advance make a rollout progress: a freeze refuses them (read under its lock, src/services/freeze-service.ts).
        const frozenState = control === "resume" || control === "advance" ? freezeAt(await repos.freeze.read("share"), at) : undefined;
        const r = await repos.rollouts.activeOf(channel.id);
        // The gates asked before: for this very step (else they are asked again at the next try), all passing.
        let verdict: GatesVerdict = { kind: "pass" };
        if (r && gatesOf(r).length > 0 && control === "advance" && !input.force && r.state !== "halted") {
          verdict = asked && asked.step === r.step && asked.stepStartedAt === r.stepStartedAt.getTime() ? gatesVerdict(asked.results) : { kind: "pending", detail: "the step changed while its gates were asked; try again" };
        }
        const d = decideControl({ channel: channel.name, rollout: r, control, force: input.force ?? false, isAdmin: actor.isAdmin, frozen: frozenState?.frozen ?? false, gatesPass: verdict.kind === "pass" });
        if (d.kind === "refuse") {
          if (d.code === "FROZEN") throw frozenError(frozenState!, d.message);
          if (d.code === "ROLE_REQUIRED") throw new RoleRequiredError("admin");
          if (d.code === "GATES_FAILING") throw new GatesFailingError(verdict.kind === "pass" ? d.message : `${d.message} (${verdict.kind === "fail" ? `${gateName(verdict.index, verdict.gate)} failed: ${verdict.detail}` : verdict.detail})`);
          throw new NoActiveRolloutError(d.message);
        }
        if (d.kind === "noop") return { value: { view: await viewOf(repos, channel, r!), changed: false, message: d.message, channel }, changed: false };
        const w = await writeTransition(repos, { channel, rollout: r!, transition: d.transition, actor, reason: input.reason, now: at, action: actionOf(d.transition, control) });
        const message =
          d.transition.kind === "complete" ? `rollout of channel ${channel.name} completed: the channel is at its target now`
          : d.transition.kind === "step" ? `rollout of channel ${channel.name} advanced to ${stepText(w.rollout, d.transition.step)}`
          : `rollout of channel ${channel.name} is ${w.rollout.state}`;
        return { value: { view: await viewOf(repos, channel, w.rollout), changed: true, message, channel }, changed: true, moved: w.moved };
      });
      // After the commit the control took effect: a failure to count the fleet must not look like a
      // refusal (a retry would act twice). The answer then has no counts (the view, read in the
      // transaction, is the truth).
      const counts = await countsOf(out.channel, out.view).catch(() => undefined);
      return { rollout: counts ? { ...out.view, counts } : out.view, changed: out.changed, message: out.message };
    },

    /**
     * Ends every step whose time has come (the scheduler calls it about
     * once a second, src/services/rollout-scheduler.ts). Answers the
     * rollouts it changed.
     */
    async progressDue(): Promise<Rollout[]> {
      const at = now();
      const changed: Rollout[] = [];
      for (const r of await store.rollouts.progressing()) {
        let out: Rollout | undefined;
        if (gatesOf(r).length === 0) {
          if (decideProgress({ rollout: r, now: at, frozen: false, gatesPass: true }).kind !== "apply") continue;
          out = await progressOne(r.id, r.channelId);
        } else {
          // Gated: evaluated at every tick, bake or not (a failing gate fails at once).
          let evaluated: Evaluated;
          try {
            evaluated = await evaluateGates(r, at);
          } catch (err) {
            opts.onGateError?.(err, r.id);
            continue;
          }
          out = await progressOne(r.id, r.channelId, evaluated);
        }
        if (out) changed.push(out);
      }
      return changed;
    },

    /** The view of a rollout just started (the 202 of a promotion with `rollout`). */
    async viewOfStarted(channelName: string, r: Rollout): Promise<RolloutView> {
      const channel = await channelOrThrow(store, channelName);
      const view = await viewOf(store, channel, r);
      return { ...view, counts: await countsOf(channel, view) };
    },
  };
}
export type RolloutService = ReturnType<typeof rolloutService>;
