// Resolves and caches the serialized spec per channel (and per pinned
// release, and per licensee with overrides). A warm poll is one Map lookup;
// every catalog or override change empties the cache, and a load that
// started before the change never stores its stale result.
// Which release a licensee gets is decided by the resolver
// (src/services/resolve-release.ts), called when a spec is built: the facts
// it decided from are cached with the spec, so explain() (GET /resolve)
// gives the reasons of exactly the answer a poll gets now, and a warm poll
// does no more than before. The answer depends on the channel, the
// licensee's overrides, the pin and, while the channel has an active
// rollout, which side of its cohort the licensee is on: that is what the
// keys hold. The channel's facts (its rows and its rollout) are cached per
// channel too, so a warm poll of a channel with a rollout costs one cohort
// test (a one-shot SHA-256 of salt:sub, compiled once per read of the
// channel: cohortTest in src/domain/cohort.ts) and two Map lookups; each
// distinct spec is serialized once, never per licensee.
import { LRUCache } from "lru-cache";
import { ChannelEmptyError, ChannelNotFoundError, ReleaseNotEntitledError, ReleaseNotFoundError } from "../errors.js";
import type { Values } from "../domain/values.js";
import type { Release } from "../domain/schemas.js";
import type { Store } from "../repositories/store.js";
import { buildSpec, serializeSpec, type SerializedSpec } from "./spec.js";
import { ANONYMOUS_SUB } from "../licensing/anonymous.js";
import { isActiveRollout, rolloutCohortTest, resolveRelease, type Reason, type ReleaseRef, type Resolution, type ResolveFacts } from "./resolve-release.js";
import { rolloutFacts } from "./rollout-service.js";
import type { Channel } from "../domain/schemas.js";

type SpecStore = Pick<Store, "channels" | "releases" | "events" | "licenses" | "rollouts">;

/** The facts of a channel the resolver decided from: its release and its active rollout. */
type ChannelState = Pick<ResolveFacts, "channel" | "rollout">;

/** A channel as read for its specs: its row, its release and its rollout's target, and the resolver's facts of them. */
interface ChannelRead {
  channel: Channel;
  release: Release | null;
  target: Release | null;
  state: ChannelState;
  /** The cache generation the read began in: specs built from it are cached only in that generation. */
  generation: number;
  /** With an active rollout, whether a sub is in its cohort; null without one. */
  inCohort: ((sub: string) => boolean) | null;
}

/** A spec served, with the channel's facts it was resolved from. */
interface Served {
  spec: SerializedSpec;
  state: ChannelState;
}

/** A cached answer: a spec, or the error a request for it gets. */
type Entry = Served | { error: Error };

/** What GET /resolve answers: the spec a poll gets now, and why. */
export interface Explanation {
  spec: SerializedSpec;
  reasons: Reason[];
}

const refOf = (r: Release): ReleaseRef => ({ id: r.id, version: r.version });

/** A refusal of the resolver as the error the poll answers. */
function refusal(r: Extract<Resolution, { kind: "refuse" }>, channel: string, version: string): Error {
  return r.code === "CHANNEL_HAS_NO_RELEASE" ? new ChannelEmptyError(channel) : new ReleaseNotEntitledError(version);
}

export interface SpecServiceOptions {
  /** Bound on cached entries (channels × pinned refs × licensees with overrides). */
  maxEntries?: number;
}

export function specService(store: SpecStore, opts: SpecServiceOptions = {}) {
  const cache = new LRUCache<string, Entry>({ max: opts.maxEntries ?? 10_000 });
  const inflight = new Map<string, Promise<Entry>>();
  /** Per channel: what was read of it (or the 404 a poll gets), until the next change. */
  // Bounded like the spec cache: unknown channel names (a 404 each) cannot grow it without end.
  const channels = new LRUCache<string, ChannelRead | { error: Error }>({ max: opts.maxEntries ?? 10_000 });
  const channelsInflight = new Map<string, Promise<ChannelRead>>();
  let overrides = new Map<string, Values>();
  let generation = 0;
  let hits = 0;
  let misses = 0;

  function settle(entry: Entry): Served {
    if ("error" in entry) throw entry.error;
    return entry;
  }

  function loadEntry(key: string, build: () => Promise<Served>, since = generation): Served | Promise<Served> {
    const cached = cache.get(key);
    if (cached) {
      hits++;
      return settle(cached);
    }
    misses++;
    let pending = inflight.get(key);
    if (!pending) {
      // A build from facts read before the last change is answered, never cached.
      const gen = Math.min(since, generation);
      pending = build()
        .then((served): Entry => served)
        .catch((error: unknown): Entry => {
          // Only answers about the catalog are cached; a database error is not.
          if ((error as { statusCode?: number }).statusCode === 404 || (error as { statusCode?: number }).statusCode === 403) return { error: error as Error };
          throw error;
        })
        .then((entry) => {
          if (gen === generation) cache.set(key, entry);
          return entry;
        })
        .finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending.then(settle);
  }

  function specOf(entry: Served | Promise<Served>): SerializedSpec | Promise<SerializedSpec> {
    return entry instanceof Promise ? entry.then((e) => e.spec) : entry.spec;
  }

  function licenseeOf(sub: string, own: Values | undefined): ResolveFacts["licensee"] {
    return { sub, anonymous: sub === ANONYMOUS_SUB, overrides: own !== undefined };
  }

  /**
   * Which side of the channel's rollout the licensee is on, for the cache
   * key: "" with no active rollout, "+" in its cohort, "-" outside.
   */
  function sideOf(read: ChannelRead, sub: string): string {
    const inCohort = read.inCohort;
    if (!inCohort) return "";
    return inCohort(sub) ? "+" : "-";
  }

  /** The cache key of a channel's spec: the cohort side, and per licensee only for licensees with overrides. */
  function channelKey(channelName: string, side: string, subWithOverrides: string | undefined): string {
    return subWithOverrides === undefined ? `c${side}\0${channelName}` : `c${side}\0${channelName}\0${subWithOverrides}`;
  }

  /** Reads a channel, its release and its active rollout (and that rollout's target). */
  async function readChannel(name: string, gen: number): Promise<ChannelRead> {
    // The rollout before the channel row (two reads, no transaction): a completion committed between
    // them then reads as "at the target, rollout still active", which serves everyone the target; read
    // the other way round it would read as "at the old release, no rollout" and serve the cohort a
    // downgrade until the next invalidation. Every other interleaving is merely a little stale.
    const active = await store.rollouts.activeOfChannelNamed(name);
    const channel = await store.channels.findByName(name);
    if (!channel) throw new ChannelNotFoundError(name);
    const rollout = active && active.channelId === channel.id ? active : null;
    const release = channel.releaseId ? await store.releases.findByRef(channel.releaseId) : null;
    const target = rollout ? await store.releases.findByRef(rollout.releaseId) : null;
    const state: ChannelState = {
      channel: { name: channel.name, release: release ? refOf(release) : null },
      rollout: rollout && target ? rolloutFacts(rollout, target) : null,
    };
    return { channel, release, target, state, generation: gen, inCohort: isActiveRollout(state.rollout) ? rolloutCohortTest(state.rollout) : null };
  }

  /** The channel's read, cached until the next change (a 404 too); concurrent misses share one read. */
  function channelRead(name: string): ChannelRead | Promise<ChannelRead> {
    const cached = channels.get(name);
    if (cached) {
      if ("error" in cached) throw cached.error;
      return cached;
    }
    let pending = channelsInflight.get(name);
    if (!pending) {
      const gen = generation;
      pending = readChannel(name, gen)
        .then(
          (read) => {
            if (gen === generation) channels.set(name, read);
            return read;
          },
          (error: unknown) => {
            if (gen === generation && error instanceof ChannelNotFoundError) channels.set(name, { error });
            throw error;
          },
        )
        .finally(() => channelsInflight.delete(name));
      channelsInflight.set(name, pending);
    }
    return pending;
  }

  /** Builds the channel's spec for a licensee: the release the resolver decides, with its values. */
  function buildChannel(read: ChannelRead, sub: string, own: Values | undefined) {
    return async (): Promise<Served> => {
      const { channel, release, target, state } = read;
      const decision = resolveRelease({ ...state, licensee: licenseeOf(sub, own) });
      if (decision.kind === "refuse") throw refusal(decision, channel.name, "");
      const served = decision.release.id === release?.id ? release : decision.release.id === target?.id ? target : await store.releases.findByRef(decision.release.id);
      if (!served) throw new ReleaseNotFoundError(decision.release.version);
      return { spec: serializeSpec(buildSpec(channel, served, { overrides: own }), served, channel.name), state };
    };
  }

  function channelEntryOf(read: ChannelRead, sub: string, own: Values | undefined): Served | Promise<Served> {
    return loadEntry(channelKey(read.channel.name, sideOf(read, sub), own ? sub : undefined), buildChannel(read, sub, own), read.generation);
  }

  function channelEntry(channelName: string, sub: string, own: Values | undefined): Served | Promise<Served> {
    const read = channelRead(channelName);
    return read instanceof Promise ? read.then((r) => channelEntryOf(r, sub, own)) : channelEntryOf(read, sub, own);
  }

  return {
    /** The spec of a channel for a licensee. */
    channelSpec(channelName: string, sub: string): SerializedSpec | Promise<SerializedSpec> {
      return specOf(channelEntry(channelName, sub, overrides.get(sub)));
    },

    /**
     * What a poll of the channel by this licensee gets now (the same cache
     * entry, so the same bytes and ETag), and the resolver's reasons, from
     * the facts that answer was built from. Refusals are the poll's (404).
     */
    async explain(channelName: string, sub: string): Promise<Explanation> {
      const own = overrides.get(sub);
      // One read of the overrides for the key and the facts: a reload meanwhile cannot mix them.
      const { spec, state } = await channelEntry(channelName, sub, own);
      const decision = resolveRelease({ ...state, licensee: licenseeOf(sub, own) });
      // The same pure function on the same facts: anything else is a bug, never an answer.
      if (decision.kind !== "serve" || decision.release.id !== spec.releaseId) throw new Error(`resolver disagrees with the cached spec of channel ${channelName} for ${sub}`);
      return { spec, reasons: decision.reasons };
    },

    /**
     * The channel's spec for a licensee when it is cached and servable,
     * else undefined; counts nothing (the caller counts a hit with
     * countHit() when it answers with it; otherwise channelSpec() decides
     * and counts).
     */
    cachedChannelSpec(channelName: string, sub: string): SerializedSpec | undefined {
      const read = channels.get(channelName);
      if (!read || "error" in read) return undefined;
      const entry = cache.get(channelKey(channelName, sideOf(read, sub), overrides.has(sub) ? sub : undefined));
      return entry && "spec" in entry ? entry.spec : undefined;
    },

    /** One answer served from cachedChannelSpec(). */
    countHit(): void {
      hits++;
    },

    /**
     * A pinned release, served as the resolver decides (it has at some time
     * been the release of the licensee's channel and is not yanked). With a
     * rollout, a pin of its target depends on the cohort: the key says
     * which side of it the licensee is on.
     */
    async pinnedSpec(channelName: string, ref: string, sub: string): Promise<SerializedSpec> {
      const own = overrides.get(sub);
      const read = await channelRead(channelName);
      const side = sideOf(read, sub);
      const key = own ? `p${side}\0${channelName}\0${ref}\0${sub}` : `p${side}\0${channelName}\0${ref}`;
      return specOf(loadEntry(key, async () => {
        const release = await store.releases.findByRef(ref);
        if (!release) throw new ReleaseNotFoundError(ref);
        const { channel, state } = read;
        const everHeld = await store.events.everHeld(channel.id, release.id);
        const decision = resolveRelease({ ...state, licensee: licenseeOf(sub, own), pinned: { release: refOf(release), yanked: release.yankedAt !== null, everHeld } });
        if (decision.kind === "refuse") throw refusal(decision, channel.name, release.version);
        return { spec: serializeSpec(buildSpec(channel, release, { overrides: own, pinned: true }), release, channel.name), state };
      }, read.generation));
    },

    /** Reloads per-license overrides (at start and after they change). */
    async loadOverrides(): Promise<void> {
      const next = await store.licenses.allOverrides();
      // Anonymous polls never get per-license values, whatever is stored.
      next.delete(ANONYMOUS_SUB);
      overrides = next;
      this.invalidate();
    },

    /** Forget every cached spec: the catalog or the overrides changed. */
    invalidate(): void {
      generation++;
      cache.clear();
      // Builds in flight began before the change: later callers build again (their answers are never cached).
      inflight.clear();
      channels.clear();
      // Reads in flight began before the change: later callers read again.
      channelsInflight.clear();
    },

    stats() {
      return { hits, misses, size: cache.size, max: cache.max };
    },
  };
}
export type SpecService = ReturnType<typeof specService>;
