// Channels and releases: create, change, promote, roll back, yank. Every
// change writes its channel history and audit entry in the same transaction
// as the change itself, and bumps the catalog version so every replica's
// spec cache learns of it. A dry run of a promotion or rollback (preview)
// takes the same reads and rules and writes nothing.
import { randomUUID } from "node:crypto";
import {
  ChannelExistsError,
  ChannelNotFoundError,
  DowngradeRefusedError,
  PromotionConflictError,
  PromotionRefusedError,
  PolicyRefusedError,
  ReleaseExistsError,
  ReleaseNotFoundError,
  ReleaseYankedError,
  RollbackRefusedError,
  RolloutInProgressError,
  WriteConflictError,
  isUniqueViolation,
  fieldError,
  withField,
  type FieldError,
} from "../errors.js";
import type { YankInput, Channel, ChannelInput, ChannelPatch, ChannelPolicy, PromoteInput, Release, ReleaseInput, GateSpec, RequiredInput, RollbackInput, RolloutInput } from "../domain/schemas.js";
import { outboundUrlProblem } from "./outbound-url.js";
import { findNulls, type Values } from "../domain/values.js";
import type { Page, PageRequest } from "../repositories/paging.js";
import type { Repos, Store } from "../repositories/store.js";
import type { ChannelEvent } from "../repositories/events-repo.js";
import semver from "semver";
import { decidePromotion, refuseRollbackTo, rollbackTarget, upstreamProblem, type PolicyFacts, type PromotionDecision, type Refusal, type ReleaseFact } from "./promotion-rules.js";
import { hasRole } from "../admin/roles.js";
import { affectedOf, jsonDiff, servedValues, type Affected, type PatchOp } from "./promotion-preview.js";
import { refuseIfFrozen } from "./freeze-service.js";
import { startRollout, writeTransition } from "./rollout-service.js";
import type { Rollout } from "../repositories/rollouts-repo.js";
import { subjectOf } from "../domain/webhook-events.js";

/** Who asks, for the audit log. */
export interface Actor {
  sub: string;
  requestId?: string | undefined;
  /**
   * The admin token's roles, for the rules that depend on them (a channel
   * policy's downgradeRole). Undefined: not a token but the local CLI or
   * the server itself (first boot, the scheduler), which hold every role.
   */
  roles?: readonly string[] | undefined;
}

export interface ChannelView extends Channel {
  release: Release | null;
  /** The active rollout (docs/api.md §7) and the version of its target, if the channel has one. */
  rollout?: { rollout: Rollout; version: string } | undefined;
}

/** A yank's answer (docs/api.md §3). */
export interface YankResult {
  release: Release;
  /** The channels whose release it still is: they keep serving it until promoted or rolled back. */
  serving: string[];
  /** With `rollback`: each channel that served it, rolled back. */
  rolledBack: PromotionResult[];
  /** The rollouts of it this yank aborted. */
  abortedRollouts: { channel: string; rollout: Rollout }[];
}

export interface PromotionResult {
  changed: boolean;
  message: string;
  action: "promote" | "rollback" | null;
  channel: string;
  from: Release | null;
  to: Release;
  event: ChannelEvent | null;
  /** The rollout this promotion started (docs/api.md §7): the channel's release has not moved yet. */
  rollout?: Rollout;
  /** The rollout this rollback aborted. */
  aborted?: Rollout;
}

/**
 * A dry run of a promotion or rollback (docs/api.md §7): what it would do,
 * whom it would reach, and how the served values and chart would change.
 */
export interface PromotionPreview {
  action: "promote" | "rollback" | "noop";
  message: string;
  channel: string;
  from: Release | null;
  to: Release;
  affected: Affected;
  /** RFC 6902, from the values the channel serves now to those it would serve. */
  valuesDiff: PatchOp[];
  /** RFC 6902, from the chart it serves now to the one it would serve. */
  chartDiff: PatchOp[];
}

type MoveInput = {
  from?: string | undefined;
  expectedCurrent?: string | null | undefined;
  allowDowngrade: boolean;
  reason?: string | undefined;
  forceAction?: "rollback" | "declare";
  /** Only an apply that seeds an empty database (src/services/apply-channels.ts): its declared releases are where channels start, not promotions. */
  ignorePolicy?: boolean;
};

type CatalogStore = Pick<Store, "transaction" | "channels" | "releases" | "events" | "audit" | "fleet" | "freeze" | "rollouts">;

export interface CatalogServiceOptions {
  /** After every committed change: this replica's caches must forget. */
  onChange?: () => void;
  /**
   * After every committed move of a channel, whoever asked (the admin API,
   * `apply`, the first boot): a declared move counts as a promote.
   */
  onMoved?: (action: "promote" | "rollback") => void;
  /** OUTBOUND_DENY_PRIVATE: a rollout's webhook and Prometheus gates may not name internal addresses (docs/api.md §9). */
  denyPrivate?: boolean;
}

/** Something the caller should know about what it stored; the change itself succeeded. */
export interface Warning {
  code: "VALUES_NULL";
  field: string;
  message: string;
}

export interface CreatedRelease {
  release: Release;
  warnings: Warning[];
}

const MAX_NULL_WARNINGS = 20;

/**
 * One warning per `null` in `values` (at most 20, then one that says there
 * are more): Chartroom serves no null, so each removes a key of the layers
 * below instead (docs/decisions.md, decision 34).
 */
export function nullWarnings(values: Values, field: string): Warning[] {
  const paths = findNulls(values, MAX_NULL_WARNINGS + 1);
  const warnings: Warning[] = paths.slice(0, MAX_NULL_WARNINGS).map((p) => {
    const at = p.startsWith("[") || p === "" ? `${field}${p}` : `${field}.${p}`;
    return {
      code: "VALUES_NULL",
      field: at,
      message: /\]$/.test(p)
        ? `${at} is null: the element is dropped from every served spec (Chartroom serves no null; the operator's merge crashes on one)`
        : `${at} is null: the key is removed from the channel's default values and absent from every served spec (Chartroom serves no null; the operator's merge crashes on one)`,
    };
  });
  if (paths.length > MAX_NULL_WARNINGS) warnings.push({ code: "VALUES_NULL", field, message: `${field} holds more than ${MAX_NULL_WARNINGS} nulls; only the first ${MAX_NULL_WARNINGS} are listed` });
  return warnings;
}

function fact(r: Release): ReleaseFact {
  return { id: r.id, version: r.version, yanked: r.yankedAt !== null };
}

/** Every release a list of history events mentions. */
function releaseIdsOf(events: Pick<ChannelEvent, "fromReleaseId" | "toReleaseId">[]): string[] {
  return [...new Set(events.flatMap((e) => [e.toReleaseId, e.fromReleaseId]).filter((x): x is string => !!x))];
}

function refusal(d: Refusal, version: string): Error {
  const err =
    d.code === "PROMOTION_CONFLICT"
      ? new PromotionConflictError(d.message)
      : d.code === "RELEASE_YANKED"
        ? new ReleaseYankedError(version)
        : d.code === "DOWNGRADE_REFUSED"
          ? new DowngradeRefusedError(d.message)
          : d.code === "ROLLBACK_REFUSED"
            ? new RollbackRefusedError(d.message)
            : d.code === "POLICY_REFUSED"
              ? new PolicyRefusedError(d.message)
              : new PromotionRefusedError(d.message);
  return d.field ? withField(err, d.field, d.message) : err;
}

/** A rollback is a move down that is allowed and recorded as a rollback. */
function rollbackMove(input: RollbackInput): MoveInput {
  return { allowDowngrade: true, reason: input.reason, forceAction: "rollback" };
}

/** The rules name the promote body's "release"; a rollback's is "to". */
function asRollbackField(err: unknown): never {
  const e = err as FieldError;
  if (e?.field === "release") e.field = "to";
  throw err;
}

/** With OUTBOUND_DENY_PRIVATE, a gate URL on an internal address is a 400 naming it (the schema checked the rest, src/domain/schemas.ts). */
function refusePrivateGates(rollout: RolloutInput, denyPrivate: boolean): void {
  if (!denyPrivate) return;
  const lists: [string, readonly GateSpec[]][] = [["rollout.gates", rollout.gates], ...rollout.steps.map((s, i): [string, readonly GateSpec[]] => [`rollout.steps.${i}.gates`, s.gates ?? []])];
  for (const [where, gates] of lists) {
    gates.forEach((g, i) => {
      if (g.kind === "reports") return;
      const problem = outboundUrlProblem(g.url, true);
      if (problem) throw fieldError(`${where}.${i}.url`, problem);
    });
  }
}

export function catalogService(store: CatalogStore, { onChange = () => {}, onMoved = () => {}, denyPrivate = false }: CatalogServiceOptions = {}) {
  async function channelOrThrow(repos: Pick<Repos, "channels">, name: string, field?: string): Promise<Channel> {
    const c = await repos.channels.findByName(name);
    if (!c) throw field ? withField(new ChannelNotFoundError(name), field) : new ChannelNotFoundError(name);
    return c;
  }
  async function releaseOrThrow(repos: Pick<Repos, "releases">, ref: string, field?: string): Promise<Release> {
    const r = await repos.releases.findByRef(ref);
    if (!r) throw field ? withField(new ReleaseNotFoundError(ref), field) : new ReleaseNotFoundError(ref);
    return r;
  }
  async function releaseOf(repos: Pick<Repos, "releases">, id: string | null): Promise<Release | null> {
    return id ? repos.releases.findByRef(id) : null;
  }
  /** Commits `fn`, then tells the caches. */
  async function change<T>(fn: (repos: Repos) => Promise<T>): Promise<T> {
    const out = await store.transaction(async (repos) => {
      const result = await fn(repos);
      await repos.state.bump("catalog");
      return result;
    });
    onChange();
    return out;
  }

  /** Runs a move in one transaction; bumps the catalog and tells the caches only if it changed something. */
  async function committedMove(fn: (repos: Repos) => Promise<PromotionResult>): Promise<PromotionResult> {
    const result = await store.transaction(async (repos) => {
      const r = await fn(repos);
      if (r.changed) await repos.state.bump("catalog");
      return r;
    });
    if (result.changed) onChange();
    movesCommitted([result]);
    return result;
  }

  /** Marks or unmarks a stepping stone in the caller's transaction, audited (the API and declarative apply). */
  async function markRequired(repos: Repos, r: Release, input: RequiredInput, actor: Actor): Promise<Release> {
    const updated = await repos.releases.setRequired(r.id, input.required, actor.sub, input.reason, new Date());
    await repos.audit.add({
      actor: actor.sub,
      action: "release.required",
      targetType: "release",
      target: r.version,
      before: { required: r.required, reason: r.requiredReason },
      after: { required: input.required, reason: input.reason },
      requestId: actor.requestId,
    });
    return updated;
  }

  function movesCommitted(results: PromotionResult[]): void {
    for (const r of results) if (r.changed && r.action) onMoved(r.action);
  }

  /**
   * What moving `channel` to `target` would do under the promotion rules,
   * from the same reads: throws the refusal; writes nothing. Shared by the
   * moves and their dry runs.
   */
  async function decideMove(
    repos: Pick<Repos, "channels" | "releases" | "events">,
    channel: Channel,
    target: Release,
    input: MoveInput,
    roles: readonly string[] | undefined,
  ): Promise<{ current: Release | null; decision: Exclude<PromotionDecision, Refusal> }> {
    const current = await releaseOf(repos, channel.releaseId);
    let from: { channel: string; current: ReleaseFact | null } | undefined;
    if (input.from !== undefined) {
      const fromChannel = await channelOrThrow(repos, input.from, "from");
      const fromRelease = await releaseOf(repos, fromChannel.releaseId);
      from = { channel: fromChannel.name, current: fromRelease ? fact(fromRelease) : null };
    }
    const decision = decidePromotion({
      channel: channel.name,
      release: fact(target),
      current: current ? fact(current) : null,
      from,
      expectedCurrent: input.expectedCurrent,
      allowDowngrade: input.allowDowngrade,
      policy: input.ignorePolicy ? undefined : await policyFacts(repos, channel, roles),
    });
    if (decision.kind === "refuse") throw refusal(decision, target.version);
    return { current, decision };
  }

  /** 400 naming policy.upstream when it names no channel, the channel itself, or closes a cycle. */
  async function refuseBadUpstream(repos: Pick<Repos, "channels">, name: string, policy: ChannelPolicy, field = "policy.upstream"): Promise<void> {
    if (policy.upstream === undefined) return;
    const upstreams = new Map((await repos.channels.list()).map((c) => [c.name, c.policy.upstream ?? null]));
    upstreams.set(name, policy.upstream);
    const problem = upstreamProblem(name, policy.upstream, (n) => upstreams.get(n));
    if (problem) throw fieldError(field, problem);
  }

  /** The channel's policy with the facts its rules read: the upstream's release and since when (undefined: no policy). */
  async function policyFacts(repos: Pick<Repos, "channels" | "releases" | "events">, channel: Channel, roles: readonly string[] | undefined): Promise<PolicyFacts | undefined> {
    const p = channel.policy;
    if (p.upstream === undefined && p.minSoak === undefined && p.downgradeRole === undefined) return undefined;
    const downgradeRole = p.downgradeRole ?? "release-engineer";
    let upstream: PolicyFacts["upstream"];
    if (p.upstream !== undefined) {
      const u = await channelOrThrow(repos, p.upstream, "policy.upstream");
      const release = await releaseOf(repos, u.releaseId);
      upstream = { channel: u.name, current: release && fact(release), since: release ? await repos.events.heldSince(u.id, release.id) : null };
    }
    return { upstream, minSoak: p.minSoak, downgradeRole, mayDowngrade: roles === undefined || hasRole(roles, downgradeRole), now: new Date() };
  }

  /** Moves a channel; shared by promote, rollback and declarative apply. */
  async function move(repos: Repos, channel: Channel, target: Release, input: MoveInput, actor: Actor): Promise<PromotionResult> {
    await refuseDuringRollout(repos, channel);
    const { current, decision } = await decideMove(repos, channel, target, input, actor.roles);
    if (decision.kind === "noop") {
      return { changed: false, message: decision.message, action: null, channel: channel.name, from: current, to: target, event: null };
    }
    const action = input.forceAction ?? decision.action;
    if (!(await repos.channels.setRelease(channel.id, target.id, channel.rowVersion))) {
      // Another writer moved the channel after we read it.
      throw input.expectedCurrent !== undefined
        ? withField(new PromotionConflictError(`channel ${channel.name} changed while promoting; read it again`), "expectedCurrent")
        : new WriteConflictError();
    }
    const event = await repos.events.add({
      channelId: channel.id,
      action,
      fromReleaseId: current?.id ?? null,
      toReleaseId: target.id,
      actor: actor.sub,
      reason: input.reason ?? null,
      requestId: actor.requestId ?? null,
    });
    await repos.audit.add({
      actor: actor.sub,
      action: `channel.${action}`,
      targetType: "channel",
      target: channel.name,
      before: { release: current?.version ?? null },
      after: { release: target.version, reason: input.reason ?? null },
      requestId: actor.requestId,
    });
    await repos.outbox.add(action === "rollback" ? "channel.rolled-back" : "channel.promoted", subjectOf.channel(channel.name), { channel: channel.name, from: current?.version ?? null, to: target.version, action, reason: input.reason ?? null, by: actor.sub });
    const verb = action === "promote" ? "promoted to" : action === "rollback" ? "rolled back to" : "declared at";
    return { changed: true, message: `channel ${channel.name} ${verb} ${target.version}`, action: action === "declare" ? "promote" : action, channel: channel.name, from: current, to: target, event };
  }

  /**
   * A promotion in steps, in the caller's transaction (the promote route, and
   * declarative apply): the promotion rules are checked now; the channel's
   * release moves when the rollout completes.
   */
  async function promoteWithRollout(repos: Repos, channel: Channel, target: Release, input: MoveInput & { rollout: RolloutInput }, actor: Actor): Promise<PromotionResult> {
    await refuseDuringRollout(repos, channel);
    const { current, decision } = await decideMove(repos, channel, target, input, actor.roles);
    if (decision.kind === "noop") return { changed: false, message: decision.message, action: null, channel: channel.name, from: current, to: target, event: null };
    if (decision.action !== "promote") throw downgradeWithRollout(target, current, channel.name);
    refusePrivateGates(input.rollout, denyPrivate);
    const rollout = await startRollout(repos, { channel, current, target, input: input.rollout, reason: input.reason, actor, now: new Date() });
    // Changed (the catalog version is bumped), but no move: the metrics count a promote at completion.
    return { changed: true, message: `rollout of ${target.version} to channel ${channel.name} started at ${rollout.steps[0]!.percent} %`, action: null, channel: channel.name, from: current, to: target, event: null, rollout };
  }

  /** A `rollout` with a move down: 400 naming `rollout` (the promotion and its dry run alike). */
  function downgradeWithRollout(target: Release, current: Release | null, channel = ""): Error {
    const how = channel ? ` (POST /channels/${channel}/rollback)` : "";
    return fieldError("rollout", `release ${target.version} is lower than ${current?.version ?? "none"}: a rollout promotes; roll back at once instead${how}`);
  }

    /** 409 ROLLOUT_IN_PROGRESS: one rollout per channel, and nothing else moves it meanwhile (docs/api.md §7). */
  async function refuseDuringRollout(repos: Pick<Repos, "rollouts">, channel: Channel): Promise<void> {
    const active = await repos.rollouts.activeOf(channel.id);
    if (active) {
      throw new RolloutInProgressError(
        `channel ${channel.name} has an active rollout (${active.id}, ${active.state} at step ${active.step + 1} of ${active.steps.length}); pause, advance or abort it first (chartroom rollout status ${channel.name})`,
      );
    }
  }

  /** Aborts the channel's active rollout, if any, in the caller's transaction: a rollback or a yank of its target. */
  async function abortActive(repos: Repos, channel: Channel, actor: Actor, reason: string, onlyTarget?: string): Promise<{ rollout: Rollout | undefined; channel: Channel } | undefined> {
    const seen = await repos.rollouts.activeOf(channel.id);
    if (!seen || (onlyTarget !== undefined && seen.releaseId !== onlyTarget)) return undefined;
    // Like a control: wait for the scheduler or a control in flight on this channel (PostgreSQL), then
    // read the channel and its rollout again, so the abort never loses to a step with WRITE_CONFLICT.
    await repos.rollouts.lockProgress(channel.id);
    const fresh = (await repos.channels.findById(channel.id)) ?? channel;
    const active = await repos.rollouts.activeOf(channel.id);
    if (!active || (onlyTarget !== undefined && active.releaseId !== onlyTarget)) return { rollout: undefined, channel: fresh };
    const { rollout } = await writeTransition(repos, { channel: fresh, rollout: active, transition: { kind: "abort" }, actor, reason, now: new Date(), action: "rollout.abort" });
    // The abort took the channel's row version: read it again for what follows in this transaction.
    return { rollout, channel: (await repos.channels.findById(channel.id)) ?? channel };
  }

  /** The release a rollback of `channel` goes to: `to`, under the rollback rule, or the one before the current release. */
  async function rollbackTargetOf(repos: Pick<Repos, "channels" | "releases" | "events">, channel: Channel, input: Pick<RollbackInput, "to">): Promise<Release> {
    // Held: what the channel's release has been. A rollout's step never moved it, and an aborted
    // rollout's target is only the "from" of its rollback (src/repositories/events-repo.ts).
    const history = (await repos.events.allOf(channel.id)).filter((e) => e.action !== "rollout-step");
    const heldIds = [...new Set(history.map((e) => e.toReleaseId).filter((x): x is string => !!x))];
    const held = new Map((await repos.releases.findByIds(heldIds)).map((r) => [r.id, r]));
    const current = (channel.releaseId && held.get(channel.releaseId)) || (await releaseOf(repos, channel.releaseId));
    if (input.to !== undefined) {
      const target = await releaseOrThrow(repos, input.to, "to");
      const refused = refuseRollbackTo({ channel: channel.name, current: current && fact(current), to: fact(target), held: held.has(target.id) });
      if (refused) throw refusal(refused, target.version);
      return target;
    }
    // Skipped: yanked releases, and any not lower than the current one (a rollback only goes down).
    const skip = (rid: string) => {
      const r = held.get(rid);
      return !r || r.yankedAt !== null || (current !== null && !semver.lt(r.version, current.version));
    };
    const id = rollbackTarget(history, skip);
    if (!id) throw withField(new PromotionRefusedError(`channel ${channel.name} has no earlier release to roll back to`), "to");
    return held.get(id)!;
  }

  /** A move's dry run: the same reads and rules as `move`, then what it would change instead of changing it. */
  async function preview(channel: Channel, target: Release, input: MoveInput, roles: readonly string[] | undefined): Promise<PromotionPreview> {
    const { current, decision } = await decideMove(store, channel, target, input, roles);
    const action = decision.kind === "noop" ? "noop" : input.forceAction === "rollback" ? "rollback" : decision.action;
    const counts = await store.fleet.distribution({ channel: channel.name });
    const message = decision.kind === "noop" ? decision.message : `dry run: channel ${channel.name} would be ${action === "promote" ? "promoted" : "rolled back"} to ${target.version}; nothing changed`;
    return {
      action,
      message,
      channel: channel.name,
      from: current,
      to: target,
      affected: affectedOf(counts),
      valuesDiff: action === "noop" ? [] : jsonDiff(servedValues(channel, current), servedValues(channel, target)),
      chartDiff: action === "noop" ? [] : jsonDiff(current?.chart ?? {}, target.chart),
    };
  }

  return {
    async listChannels(): Promise<ChannelView[]> {
      const [channels, active] = await Promise.all([store.channels.list(), store.rollouts.allActive()]);
      const byChannel = new Map(active.map((r) => [r.channelId, r]));
      const ids = [...channels.map((c) => c.releaseId), ...active.map((r) => r.releaseId)].filter((id): id is string => id !== null);
      const releases = new Map((await store.releases.findByIds([...new Set(ids)])).map((r) => [r.id, r]));
      return channels.map((c) => {
        const r = byChannel.get(c.id);
        const version = r ? releases.get(r.releaseId)?.version : undefined;
        return { ...c, release: c.releaseId ? (releases.get(c.releaseId) ?? null) : null, rollout: r && version ? { rollout: r, version } : undefined };
      });
    },

    async getChannel(name: string): Promise<ChannelView> {
      const c = await channelOrThrow(store, name);
      const r = await store.rollouts.activeOf(c.id);
      const target = r ? await releaseOf(store, r.releaseId) : null;
      return { ...c, release: await releaseOf(store, c.releaseId), rollout: r && target ? { rollout: r, version: target.version } : undefined };
    },

    async createChannel(input: ChannelInput, actor: Actor): Promise<Channel> {
      try {
        return await change(async (repos) => {
          await refuseBadUpstream(repos, input.name, input.policy);
          const c = await repos.channels.create({ id: randomUUID(), ...input });
          await repos.audit.add({ actor: actor.sub, action: "channel.create", targetType: "channel", target: c.name, after: input, requestId: actor.requestId });
          return c;
        });
      } catch (err) {
        if (isUniqueViolation(err, "name")) throw withField(new ChannelExistsError(input.name), "name");
        throw err;
      }
    },

    async updateChannel(name: string, patch: ChannelPatch, actor: Actor): Promise<Channel> {
      return change(async (repos) => {
        const before = await channelOrThrow(repos, name);
        if (patch.policy !== undefined) await refuseBadUpstream(repos, name, patch.policy);
        const after = await repos.channels.update(before.id, patch);
        await repos.audit.add({
          actor: actor.sub,
          action: "channel.update",
          targetType: "channel",
          target: name,
          before: { description: before.description, defaultValues: before.defaultValues, policy: before.policy },
          after: { description: after.description, defaultValues: after.defaultValues, policy: after.policy },
          requestId: actor.requestId,
        });
        return after;
      });
    },

    /** Stores a release; `warnings` name what in it is stored but will not be served as written (a null in its values). */
    async createRelease(input: ReleaseInput, actor: Actor): Promise<CreatedRelease> {
      try {
        const release = await change(async (repos) => {
          const r = await repos.releases.create({ id: randomUUID(), ...input, createdBy: actor.sub });
          await repos.audit.add({ actor: actor.sub, action: "release.create", targetType: "release", target: r.version, after: input, requestId: actor.requestId });
          await repos.outbox.add("release.created", subjectOf.release(r.version), { release: { id: r.id, version: r.version }, by: actor.sub });
          return r;
        });
        return { release, warnings: nullWarnings(input.values, "values") };
      } catch (err) {
        if (isUniqueViolation(err, "version")) throw withField(new ReleaseExistsError(input.version), "version");
        throw err;
      }
    },

    async getRelease(ref: string): Promise<Release> {
      return releaseOrThrow(store, ref);
    },

    async listReleases(page: PageRequest): Promise<Page<Release>> {
      return store.releases.list(page);
    },

    /**
     * Yanks a release: a rollout of it is aborted (a yanked release is never
     * served again that way); the channels whose release it is keep serving
     * it (`serving`) unless `rollback`, which rolls each of them back as
     * POST /channels/:name/rollback without `to` would, in the same
     * transaction: one refused rollback refuses the whole yank.
     */
    async yankRelease(ref: string, input: YankInput, actor: Actor): Promise<YankResult> {
      const { reason } = input;
      const result = await change(async (repos) => {
        const r = await releaseOrThrow(repos, ref);
        if (r.yankedAt) throw new ReleaseYankedError(r.version);
        const yanked = await repos.releases.yank(r.id, actor.sub, reason, new Date());
        const why = `release ${r.version} was yanked: ${reason}`;
        // A yanked release is never served again: a rollout of it ends here (docs/decisions.md).
        const abortedRollouts: YankResult["abortedRollouts"] = [];
        for (const c of await repos.channels.list()) {
          const taken = await abortActive(repos, c, actor, why, r.id);
          if (taken?.rollout) abortedRollouts.push({ channel: c.name, rollout: taken.rollout });
        }
        // Read again: an abort took the channel's row version.
        const holding = (await repos.channels.list()).filter((c) => c.releaseId === r.id);
        const rolledBack: PromotionResult[] = [];
        if (input.rollback) {
          for (const held of holding) {
            // A rollback of a channel with an active rollout (of another release) aborts it first, as POST …/rollback does (docs/api.md §7).
            const taken = await abortActive(repos, held, actor, why);
            if (taken?.rollout) abortedRollouts.push({ channel: held.name, rollout: taken.rollout });
            const c = taken?.channel ?? held;
            const refused = (err: unknown): never => {
              const e = err as FieldError;
              // The rollback's refusal (its code kept), said as the yank's.
              e.message = `channel ${c.name} cannot be rolled back: ${e.message}; yank without rollback, then promote another release to ${c.name}`;
              throw withField(e, "rollback", e.message);
            };
            const target = await rollbackTargetOf(repos, c, {}).catch(refused);
            rolledBack.push(await move(repos, c, target, rollbackMove({ reason: why, dryRun: false }), actor).catch(refused));
          }
        }
        await repos.outbox.add("release.yanked", subjectOf.release(r.version), { release: { id: r.id, version: r.version }, reason, by: actor.sub });
        await repos.audit.add({
          actor: actor.sub,
          action: "release.yank",
          targetType: "release",
          target: r.version,
          before: { yanked: false, serving: holding.map((c) => c.name) },
          after: { yanked: true, reason, rollback: input.rollback, rolledBack: rolledBack.map((m) => ({ channel: m.channel, to: m.to.version })) },
          requestId: actor.requestId,
        });
        return { release: yanked, serving: input.rollback ? [] : holding.map((c) => c.name), rolledBack, abortedRollouts };
      });
      movesCommitted(result.rolledBack);
      return result;
    },

    /** Marks or unmarks a release required (docs/api.md §8), audited; a repeat changes nothing and writes nothing. */
    async setRequired(ref: string, input: RequiredInput, actor: Actor): Promise<{ release: Release; changed: boolean }> {
      const stored = await releaseOrThrow(store, ref);
      if (stored.required === input.required) return { release: stored, changed: false };
      const release = await change(async (repos) => markRequired(repos, await releaseOrThrow(repos, ref), input, actor));
      return { release, changed: true };
    },

    async promote(channelName: string, input: PromoteInput, actor: Actor): Promise<PromotionResult> {
      return committedMove(async (repos) => {
        // In the transaction, first: a freeze committed before this read refuses it (src/services/freeze-service.ts).
        await refuseIfFrozen(repos, `promoting ${input.release} to channel ${channelName}`);
        const channel = await channelOrThrow(repos, channelName);
        const target = await releaseOrThrow(repos, input.release, "release");
        if (!input.rollout) return move(repos, channel, target, input, actor);
        return promoteWithRollout(repos, channel, target, { ...input, rollout: input.rollout }, actor);
      });
    },

    async rollback(channelName: string, input: RollbackInput, actor: Actor): Promise<PromotionResult> {
      return committedMove(async (repos) => {
        let channel = await channelOrThrow(repos, channelName);
        // A rollback during a rollout aborts it (docs/api.md §7). Without `to` that is the whole
        // rollback: every licensee is back on the channel's release (docs/decisions.md).
        const taken = await abortActive(repos, channel, actor, input.reason);
        // The rollout may have completed while the abort waited for it: then this is a plain rollback.
        const aborted = taken?.rollout;
        if (taken) channel = taken.channel;
        if (aborted) {
          const release = await releaseOf(repos, channel.releaseId);
          if (input.to === undefined || (release && (input.to === release.id || input.to === release.version))) {
            const target = (await releaseOf(repos, aborted.releaseId))!;
            return { changed: true, message: `rollout ${aborted.id} of ${target.version} aborted: channel ${channel.name} serves ${release?.version ?? "no release"} to every licensee again`, action: "rollback", channel: channel.name, from: target, to: release ?? target, event: null, aborted };
          }
        }
        const target = await rollbackTargetOf(repos, channel, input);
        const moved = await move(repos, channel, target, rollbackMove(input), actor).catch(asRollbackField);
        return aborted ? { ...moved, changed: true, aborted } : moved;
      });
    },

    /** A dry run of `promote`: the same rules and refusals; nothing is written. */
    async previewPromote(channelName: string, input: PromoteInput, actor?: Pick<Actor, "roles">): Promise<PromotionPreview> {
      // Refused as the promotion would be; it writes nothing, so it takes no lock.
      await refuseIfFrozen(store, `promoting ${input.release} to channel ${channelName} (dry run)`, new Date(), undefined);
      const channel = await channelOrThrow(store, channelName);
      const target = await releaseOrThrow(store, input.release, "release");
      await refuseDuringRollout(store, channel);
      const result = await preview(channel, target, input, actor?.roles);
      // Refused as promoteWithRollout refuses it: a rollout only promotes.
      if (input.rollout && result.action === "rollback") throw downgradeWithRollout(target, result.from, channel.name);
      return result;
    },

    /** A dry run of `rollback`: the same target, rules and refusals; nothing is written. */
    async previewRollback(channelName: string, input: RollbackInput, actor?: Pick<Actor, "roles">): Promise<PromotionPreview> {
      const channel = await channelOrThrow(store, channelName);
      const target = await rollbackTargetOf(store, channel, input);
      return preview(channel, target, rollbackMove(input), actor?.roles).catch(asRollbackField);
    },

    async history(channelName: string, page: PageRequest) {
      const c = await channelOrThrow(store, channelName);
      const events = await store.events.list(c.id, page);
      const versions = new Map((await store.releases.findByIds(releaseIdsOf(events.items))).map((r) => [r.id, r.version]));
      return {
        items: events.items.map((e) => ({
          ...e,
          channel: c.name,
          fromVersion: e.fromReleaseId ? (versions.get(e.fromReleaseId) ?? null) : null,
          toVersion: e.toReleaseId ? (versions.get(e.toReleaseId) ?? null) : null,
        })),
        nextCursor: events.nextCursor,
      };
    },

    /** Used by declarative apply: the same rules inside the caller's transaction. */
    move,
    /** Used by declarative apply: a promotion with `rollout`, inside the caller's transaction. */
    promoteWithRollout,
    /** Declarative apply, after its transaction committed: reports the moves `move` made in it. */
    movesCommitted,
    /** Used by declarative apply: `required` of a release file, inside the caller's transaction. */
    markRequired,
    /** Used by declarative apply: the check of a channel's policy.upstream, inside the caller's transaction. */
    refuseBadUpstream,
  };
}
export type CatalogService = ReturnType<typeof catalogService>;
