// Channels and releases: create, change, promote, roll back, yank. Every
// change writes its channel history and audit entry in the same transaction
// as the change itself, and bumps the catalog version so every replica's
// spec cache learns of it.
import { randomUUID } from "node:crypto";
import {
  ChannelExistsError,
  ChannelNotFoundError,
  DowngradeRefusedError,
  PromotionConflictError,
  PromotionRefusedError,
  ReleaseExistsError,
  ReleaseNotFoundError,
  ReleaseYankedError,
  RollbackRefusedError,
  WriteConflictError,
  isUniqueViolation,
  withField,
  type FieldError,
} from "../errors.js";
import type { Channel, ChannelInput, ChannelPatch, PromoteInput, Release, ReleaseInput, RollbackInput } from "../domain/schemas.js";
import { findNulls, type Values } from "../domain/values.js";
import type { Page, PageRequest } from "../repositories/paging.js";
import type { Repos, Store } from "../repositories/store.js";
import type { ChannelEvent } from "../repositories/events-repo.js";
import semver from "semver";
import { decidePromotion, refuseRollbackTo, rollbackTarget, type Refusal, type ReleaseFact } from "./promotion-rules.js";
import { refuseIfFrozen } from "./freeze-service.js";

/** Who asks, for the audit log. */
export interface Actor {
  sub: string;
  requestId?: string | undefined;
}

export interface ChannelView extends Channel {
  release: Release | null;
}

export interface PromotionResult {
  changed: boolean;
  message: string;
  action: "promote" | "rollback" | null;
  channel: string;
  from: Release | null;
  to: Release;
  event: ChannelEvent | null;
}

type CatalogStore = Pick<Store, "transaction" | "channels" | "releases" | "events" | "audit">;

export interface CatalogServiceOptions {
  /** After every committed change: this replica's caches must forget. */
  onChange?: () => void;
  /**
   * After every committed move of a channel, whoever asked (the admin API,
   * `apply`, the first boot): a declared move counts as a promote.
   */
  onMoved?: (action: "promote" | "rollback") => void;
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
            : new PromotionRefusedError(d.message);
  return d.field ? withField(err, d.field, d.message) : err;
}

export function catalogService(store: CatalogStore, { onChange = () => {}, onMoved = () => {} }: CatalogServiceOptions = {}) {
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

  function movesCommitted(results: PromotionResult[]): void {
    for (const r of results) if (r.changed && r.action) onMoved(r.action);
  }

  /** Moves a channel; shared by promote, rollback and declarative apply. */
  async function move(
    repos: Repos,
    channel: Channel,
    target: Release,
    input: { from?: string | undefined; expectedCurrent?: string | null | undefined; allowDowngrade: boolean; reason?: string | undefined; forceAction?: "rollback" | "declare" },
    actor: Actor,
  ): Promise<PromotionResult> {
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
    });
    if (decision.kind === "refuse") throw refusal(decision, target.version);
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
    const verb = action === "promote" ? "promoted to" : action === "rollback" ? "rolled back to" : "declared at";
    return { changed: true, message: `channel ${channel.name} ${verb} ${target.version}`, action: action === "declare" ? "promote" : action, channel: channel.name, from: current, to: target, event };
  }

  return {
    async listChannels(): Promise<ChannelView[]> {
      const channels = await store.channels.list();
      const ids = channels.map((c) => c.releaseId).filter((id): id is string => id !== null);
      const releases = new Map((await store.releases.findByIds(ids)).map((r) => [r.id, r]));
      return channels.map((c) => ({ ...c, release: c.releaseId ? (releases.get(c.releaseId) ?? null) : null }));
    },

    async getChannel(name: string): Promise<ChannelView> {
      const c = await channelOrThrow(store, name);
      return { ...c, release: await releaseOf(store, c.releaseId) };
    },

    async createChannel(input: ChannelInput, actor: Actor): Promise<Channel> {
      try {
        return await change(async (repos) => {
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
        const after = await repos.channels.update(before.id, patch);
        await repos.audit.add({
          actor: actor.sub,
          action: "channel.update",
          targetType: "channel",
          target: name,
          before: { description: before.description, defaultValues: before.defaultValues },
          after: { description: after.description, defaultValues: after.defaultValues },
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

    async yankRelease(ref: string, reason: string, actor: Actor): Promise<Release> {
      return change(async (repos) => {
        const r = await releaseOrThrow(repos, ref);
        if (r.yankedAt) throw new ReleaseYankedError(r.version);
        const yanked = await repos.releases.yank(r.id, actor.sub, reason, new Date());
        await repos.audit.add({ actor: actor.sub, action: "release.yank", targetType: "release", target: r.version, before: { yanked: false }, after: { yanked: true, reason }, requestId: actor.requestId });
        return yanked;
      });
    },

    async promote(channelName: string, input: PromoteInput, actor: Actor): Promise<PromotionResult> {
      return committedMove(async (repos) => {
        // In the transaction, first: a freeze committed before this read refuses it (src/services/freeze-service.ts).
        await refuseIfFrozen(repos, `promoting ${input.release} to channel ${channelName}`);
        const channel = await channelOrThrow(repos, channelName);
        const target = await releaseOrThrow(repos, input.release, "release");
        return move(repos, channel, target, input, actor);
      });
    },

    async rollback(channelName: string, input: RollbackInput, actor: Actor): Promise<PromotionResult> {
      return committedMove(async (repos) => {
        const channel = await channelOrThrow(repos, channelName);
        const history = await repos.events.allOf(channel.id);
        const held = new Map((await repos.releases.findByIds(releaseIdsOf(history))).map((r) => [r.id, r]));
        const current = (channel.releaseId && held.get(channel.releaseId)) || (await releaseOf(repos, channel.releaseId));
        let target: Release;
        if (input.to !== undefined) {
          target = await releaseOrThrow(repos, input.to, "to");
          const refused = refuseRollbackTo({ channel: channel.name, current: current && fact(current), to: fact(target), held: held.has(target.id) });
          if (refused) throw refusal(refused, target.version);
        } else {
          // Skipped: yanked releases, and any not lower than the current one (a rollback only goes down).
          const skip = (rid: string) => {
            const r = held.get(rid);
            return !r || r.yankedAt !== null || (current !== null && !semver.lt(r.version, current.version));
          };
          const id = rollbackTarget(history, skip);
          if (!id) throw withField(new PromotionRefusedError(`channel ${channelName} has no earlier release to roll back to`), "to");
          target = held.get(id)!;
        }
        return move(repos, channel, target, { allowDowngrade: true, reason: input.reason, forceAction: "rollback" }, actor).catch((err: unknown) => {
          // The rules name the promote body's "release"; a rollback's is "to".
          const e = err as FieldError;
          if (e?.field === "release") e.field = "to";
          throw err;
        });
      });
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
    /** Declarative apply, after its transaction committed: reports the moves `move` made in it. */
    movesCommitted,
  };
}
export type CatalogService = ReturnType<typeof catalogService>;
