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
import type { Channel, Release, RolloutInput } from "../domain/schemas.js";
import { cohortMembership } from "../domain/cohort.js";
import type { Page, PageRequest } from "../repositories/paging.js";
import type { Repos, Store } from "../repositories/store.js";
import type { Rollout, RolloutChange } from "../repositories/rollouts-repo.js";
import { decideControl, decideProgress, nextStepAt, type RolloutControl, type Transition } from "./rollout-rules.js";
import { freezeAt, frozenError } from "./freeze-service.js";
import type { RolloutFacts } from "./resolve-release.js";
import type { Actor } from "./catalog-service.js";
import { subjectOf, type WebhookEventType } from "../domain/webhook-events.js";

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
  const rollout = { id: r.id, release: target?.version ?? r.releaseId, previous: previous?.version ?? null, state: r.state, step: r.step + 1, steps: r.steps.length, percent: r.steps[r.step]!.percent };
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
    steps: f.input.steps.map((s) => ({ percent: s.percent, bake: s.bake })),
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
const EVENT_OF: Record<Transition["kind"], WebhookEventType | undefined> = { pause: undefined, resume: undefined, step: "rollout.step", complete: "rollout.completed", abort: "rollout.aborted" };

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
      change = { state: "progressing" };
      break;
    case "step":
      await takeChannel(repos, channel);
      change = { step: t.step, stepStartedAt: now, state: t.state };
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
  // Notifications (docs/api.md §10). TODO(issue #17, gates): nothing writes state "halted" yet; the
  // gate evaluation that halts a rollout emits "rollout.halted" here, like the transitions below.
  const notified = EVENT_OF[t.kind];
  if (notified) await rolloutEvent(repos, notified, channel, after, actor.sub, f.reason);
  if (t.kind === "complete") await repos.outbox.add("channel.promoted", subjectOf.channel(channel.name), { channel: channel.name, from: await versionOf(repos, channel.releaseId), to: await versionOf(repos, r.releaseId), action: "promote", reason: `rollout ${r.id} completed${r.reason ? `: ${r.reason}` : ""}`, by: r.startedBy });
  return { rollout: after, moved };
}

/** The audit action of a control's or the scheduler's transition. */
function actionOf(t: Transition, control: RolloutControl | "progress"): string {
  if (t.kind === "complete") return "rollout.complete";
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
}

/** How many times a control is tried when another writer changed the rollout under it. */
const CONTROL_ATTEMPTS = 5;

export function rolloutService(store: RolloutStore, opts: RolloutServiceOptions = {}) {
  const now = opts.now ?? (() => new Date());
  const onChange = opts.onChange ?? (() => {});
  const onMoved = opts.onMoved ?? (() => {});

  async function channelOrThrow(repos: Pick<Repos, "channels">, name: string): Promise<Channel> {
    const c = await repos.channels.findByName(name);
    if (!c) throw new ChannelNotFoundError(name);
    return c;
  }

  async function viewOf(repos: Pick<Repos, "releases">, channel: Channel, r: Rollout): Promise<RolloutView> {
    const [release, previous] = await Promise.all([repos.releases.findByRef(r.releaseId), r.previousReleaseId ? repos.releases.findByRef(r.previousReleaseId) : null]);
    if (!release) throw new Error(`rollout ${r.id}: its release ${r.releaseId} is missing`);
    return { ...r, channel: channel.name, release, previous, percent: r.steps[r.step]!.percent, nextStepAt: nextStepAt(r) };
  }

  /** Counts over the channel's fleet: who is known, in the cohort, served the target, reports healthy or failed on it. */
  async function countsOf(channel: Channel, view: RolloutView): Promise<RolloutCounts> {
    const [fleet, reports] = await Promise.all([store.fleet.servedOn(channel.name), store.reports.countsOn(view.releaseId, { channel: channel.name })]);
    const facts = rolloutFacts(view, view.release);
    let inCohort = 0;
    let servedTarget = 0;
    for (const e of fleet) {
      if (cohortMembership(facts, e.sub).in) inCohort++;
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
  async function progressOne(rolloutId: string, channelId: string): Promise<Rollout | undefined> {
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
        const frozen = freezeAt(await repos.freeze.read("share"), at).frozen;
        const d = decideProgress({ rollout: r, now: at, frozen, gatesPass: true });
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
        const d = decideControl({ channel: channel.name, rollout: r, control, force: input.force ?? false, isAdmin: actor.isAdmin, frozen: frozenState?.frozen ?? false, gatesPass: true });
        if (d.kind === "refuse") {
          if (d.code === "FROZEN") throw frozenError(frozenState!, d.message);
          if (d.code === "ROLE_REQUIRED") throw new RoleRequiredError("admin");
          if (d.code === "GATES_FAILING") throw new GatesFailingError(d.message);
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
      const due = (await store.rollouts.progressing()).filter((r) => decideProgress({ rollout: r, now: at, frozen: false, gatesPass: true }).kind === "apply");
      const changed: Rollout[] = [];
      for (const r of due) {
        const out = await progressOne(r.id, r.channelId);
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
