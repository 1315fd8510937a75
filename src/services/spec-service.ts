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
// Upgrade paths (docs/api.md §8): while a side's target has an upgradeFrom,
// or a required release below it has been on the channel (pathMatters in
// src/services/upgrade-path.ts), that side's answer depends on each
// licensee's installation, which is read at its poll
// (src/services/install-facts.ts); the specs themselves are still cached
// per release. Otherwise nothing of the installation is read.
import { LRUCache } from "lru-cache";
import semver from "semver";
import { ChannelEmptyError, ChannelNotFoundError, PinnedReleaseYankedError, ReleaseNotEntitledError, ReleaseNotFoundError, UpgradePathRequiredError } from "../errors.js";
import type { Values } from "../domain/values.js";
import type { Release } from "../domain/schemas.js";
import type { Store } from "../repositories/store.js";
import { buildSpec, serializeSpec, type SerializedSpec } from "./spec.js";
import { ANONYMOUS_SUB } from "../licensing/anonymous.js";
import { isActiveRollout, rolloutCohortTest, resolveRelease, type PathFacts, type Reason, type ReleaseRef, type Resolution, type ResolveFacts } from "./resolve-release.js";
import { pathMatters, type InstallFacts, type PathDecision, type PathRelease } from "./upgrade-path.js";
import { rolloutFacts } from "./rollout-service.js";
import type { Channel } from "../domain/schemas.js";

type SpecStore = Pick<Store, "channels" | "releases" | "events" | "licenses" | "rollouts">;

/** The cohort sides of a channel's read: "" with no active rollout, "+" in its cohort, "-" outside. */
type Side = "" | "+" | "-";

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
  /** The releases that have been the channel's release, as the path rule sees them (docs/api.md §8). */
  held: PathRelease[];
  /** The path facts of the channel's release and the rollout's target. */
  targets: PathRelease[];
  /** The releases read with it, by id (a stepping stone is served from here). */
  known: Map<string, Release>;
  /** The sides whose answer depends on each licensee's installation (pathMatters of their target): never a shared cache entry. */
  pathSides: ReadonlySet<Side>;
}

/** A spec served, with the channel's facts it was resolved from (and the path facts, when a path applied). */
interface Served {
  spec: SerializedSpec;
  state: ChannelState;
  path?: PathFacts | undefined;
  /** A pinned release a path can apply to: checked against each licensee's installation at its poll. */
  pathPinned?: { pinned: NonNullable<ResolveFacts["pinned"]>; target: PathRelease } | undefined;
}

/** A cached answer: a spec, or the error a request for it gets. */
type Entry = Served | { error: Error };

/** What GET /resolve answers: the spec a poll gets now, and why (and the licensee's path, when one applies). */
export interface Explanation {
  spec: SerializedSpec;
  reasons: Reason[];
  path?: PathDecision | undefined;
}

const refOf = (r: Release): ReleaseRef => ({ id: r.id, version: r.version });

export function pathReleaseOf(r: Release): PathRelease {
  return { id: r.id, version: r.version, required: r.required, requiredReason: r.requiredReason, upgradeFrom: r.upgradeFrom, yanked: r.yankedAt !== null };
}

/** A refusal of the resolver as the error the poll answers. */
function refusal(r: Extract<Resolution, { kind: "refuse" }>, channel: string, version: string): Error {
  switch (r.code) {
    case "CHANNEL_HAS_NO_RELEASE":
      return new ChannelEmptyError(channel);
    case "RELEASE_YANKED":
      return new PinnedReleaseYankedError(version);
    case "UPGRADE_PATH_REQUIRED":
      return new UpgradePathRequiredError(r.message);
    default:
      return new ReleaseNotEntitledError(version);
  }
}

export interface SpecServiceOptions {
  /** Bound on cached entries (channels × pinned refs × licensees with overrides). */
  maxEntries?: number;
  /**
   * What a licensee has installed (src/services/install-facts.ts), asked
   * only when its answer can depend on it (docs/api.md §8). Without it every
   * licensee counts as a fresh install.
   */
  installs?: (sub: string) => Promise<InstallFacts | null>;
  /**
   * What this replica served a licensee last (the fleet recorder's memory):
   * a licensee served its target or beyond follows no path
   * (src/services/upgrade-path.ts), so its poll needs no read of its
   * installation and takes the shared, cached answer.
   */
  recent?: (sub: string) => { releaseId: string; releaseVersion: string } | undefined;
  /** STEPPING_STONE_SOAK in ms (default one hour). */
  soakMs?: number;
  now?: () => number;
}

export function specService(store: SpecStore, opts: SpecServiceOptions = {}) {
  const cache = new LRUCache<string, Entry>({ max: opts.maxEntries ?? 10_000 });
  const inflight = new Map<string, Promise<Entry>>();
  /** Per channel: what was read of it (or the 404 a poll gets), until the next change. */
  // Bounded like the spec cache: unknown channel names (a 404 each) cannot grow it without end.
  const channels = new LRUCache<string, ChannelRead | { error: Error }>({ max: opts.maxEntries ?? 10_000 });
  const channelsInflight = new Map<string, Promise<ChannelRead>>();
  let overrides = new Map<string, Values>();
  const installs = opts.installs ?? (async () => null);
  const soakMs = opts.soakMs ?? 3_600_000;
  const recent = opts.recent ?? (() => undefined);
  const now = opts.now ?? Date.now;
  /**
   * Per licensee and channel, its last answer that depended on its
   * installation: served again when the facts cannot be read (a database
   * outage), like every other cached answer then.
   */
  const lastPathAnswers = new LRUCache<string, Served>({ max: 100_000 });
  /**
   * Per licensee, the release its last answer decided on a path was (this
   * replica's memory beyond the fleet recorder's minute): once it is the
   * target or beyond, its next polls need no read (onPath). Never cleared by
   * a catalog change: it says what was served, not what to serve.
   */
  const servedOnPath = new LRUCache<string, { releaseId: string; releaseVersion: string }>({ max: 100_000 });
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
  function sideOf(read: ChannelRead, sub: string): Side {
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
    const heldRows = await store.releases.findByIds(await store.events.heldReleaseIds(channel.id));
    const known = new Map(heldRows.map((r) => [r.id, r]));
    for (const r of [release, target]) if (r) known.set(r.id, r);
    const held = heldRows.map(pathReleaseOf);
    const targets = [release, target].filter((r): r is Release => r !== null).map(pathReleaseOf);
    const inCohort = isActiveRollout(state.rollout) ? rolloutCohortTest(state.rollout) : null;
    // The release each side is headed for, and whether any licensee's path to it can differ from it.
    const pathSides = new Set<Side>();
    const matters = (r: Release | null) => r !== null && pathMatters(pathReleaseOf(r), held);
    if (inCohort) {
      if (matters(target)) pathSides.add("+");
      if (matters(release)) pathSides.add("-");
    } else if (matters(release)) pathSides.add("");
    return { channel, release, target, state, generation: gen, inCohort, held, targets, known, pathSides };
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

  /**
   * Whether the licensee's answer depends on its installation now: its side
   * has a path that can differ from the target, and this replica has not
   * already served it the target or beyond (then it follows no path).
   */
  function onPath(read: ChannelRead, side: Side, sub: string): boolean {
    if (!read.pathSides.has(side)) return false;
    const target = side === "+" ? read.target : read.release;
    if (!target) return true;
    // What this replica served it: the recorder's memory (the last minute), else the last path answer's release
    // (kept for hours: an operator polls hourly, and the recorder forgets it in between).
    const last = recent(sub) ?? servedOnPath.get(sub);
    if (!last) return true;
    return last.releaseId !== target.id && semver.lt(last.releaseVersion, target.version);
  }

  function channelEntryOf(read: ChannelRead, sub: string, own: Values | undefined): Served | Promise<Served> {
    const side = sideOf(read, sub);
    if (onPath(read, side, sub)) return pathEntry(read, sub, own);
    return loadEntry(channelKey(read.channel.name, side, own ? sub : undefined), buildChannel(read, sub, own), read.generation);
  }

  /** The path facts of a licensee for this read: read now, from the database and this replica's recent serves. */
  async function pathFactsOf(read: ChannelRead, sub: string): Promise<PathFacts> {
    const installed = sub === ANONYMOUS_SUB ? null : await installs(sub);
    return { held: read.held, targets: read.targets, installed, now: now(), soakMs };
  }

  /**
   * The channel's answer for a licensee whose path can differ from its
   * target (docs/api.md §8): decided per poll from its installation; the
   * spec of each release served is still serialized once (per licensee
   * only with overrides). When the installation cannot be read (the
   * database is down), its last such answer, if any.
   */
  async function pathEntry(read: ChannelRead, sub: string, own: Values | undefined): Promise<Served> {
    const lastKey = `${read.channel.name}\0${sub}`;
    let path: PathFacts;
    try {
      path = await pathFactsOf(read, sub);
    } catch (err) {
      const last = (err as { statusCode?: number }).statusCode === 503 ? lastPathAnswers.get(lastKey) : undefined;
      if (last) return last;
      throw err;
    }
    const decision = resolveRelease({ ...read.state, licensee: licenseeOf(sub, own), path });
    if (decision.kind === "refuse") throw refusal(decision, read.channel.name, "");
    const id = decision.release.id;
    const side = sideOf(read, sub);
    const target = side === "+" ? read.target : read.release;
    // The target itself: the side's shared entry (the one the poll takes once it needs no path).
    const key = id === target?.id ? channelKey(read.channel.name, side, own ? sub : undefined) : own ? `r\0${read.channel.name}\0${id}\0${sub}` : `r\0${read.channel.name}\0${id}`;
    const entry = await loadEntry(
      key,
      async () => {
        const release = read.known.get(id) ?? (await store.releases.findByRef(id));
        if (!release) throw new ReleaseNotFoundError(decision.release.version);
        return { spec: serializeSpec(buildSpec(read.channel, release, { overrides: own }), release, read.channel.name), state: read.state };
      },
      read.generation,
    );
    const served: Served = { spec: entry.spec, state: read.state, path };
    lastPathAnswers.set(lastKey, served);
    servedOnPath.set(sub, { releaseId: entry.spec.releaseId, releaseVersion: entry.spec.version });
    return served;
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
      // With a path on its side, always decided from its installation, even when this replica served it
      // its target already (the poll's shortcut): the same release and bytes, and /resolve shows the path.
      const read = await channelRead(channelName);
      const { spec, state, path } = read.pathSides.has(sideOf(read, sub)) ? await pathEntry(read, sub, own) : await channelEntryOf(read, sub, own);
      const decision = resolveRelease({ ...state, licensee: licenseeOf(sub, own), path });
      // The same pure function on the same facts: anything else is a bug, never an answer.
      if (decision.kind !== "serve" || decision.release.id !== spec.releaseId) throw new Error(`resolver disagrees with the cached spec of channel ${channelName} for ${sub}`);
      return { spec, reasons: decision.reasons, path: decision.path };
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
      const side = sideOf(read, sub);
      // An answer that depends on the licensee's installation is decided per poll (channelSpec).
      if (onPath(read, side, sub)) return undefined;
      const entry = cache.get(channelKey(channelName, side, overrides.has(sub) ? sub : undefined));
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
      const entry = await loadEntry(key, async () => {
        const release = await store.releases.findByRef(ref);
        if (!release) throw new ReleaseNotFoundError(ref);
        const { channel, state } = read;
        const everHeld = await store.events.everHeld(channel.id, release.id);
        const pinned = { release: refOf(release), yanked: release.yankedAt !== null, everHeld };
        const decision = resolveRelease({ ...state, licensee: licenseeOf(sub, own), pinned });
        if (decision.kind === "refuse") throw refusal(decision, channel.name, release.version);
        // Entitled; when a path can apply to it, each licensee's installation decides at its poll.
        const target = pathReleaseOf(release);
        const pathPinned = pathMatters(target, read.held) ? { pinned, target } : undefined;
        return { spec: serializeSpec(buildSpec(channel, release, { overrides: own, pinned: true }), release, channel.name), state, pathPinned };
      }, read.generation);
      if (!entry.pathPinned || sub === ANONYMOUS_SUB) return entry.spec;
      const facts = await pathFactsOf(read, sub);
      const path = { ...facts, targets: [...read.targets, entry.pathPinned.target] };
      const decision = resolveRelease({ ...read.state, licensee: licenseeOf(sub, own), pinned: entry.pathPinned.pinned, path });
      if (decision.kind === "refuse") throw refusal(decision, read.channel.name, entry.pathPinned.pinned.release.version);
      return entry.spec;
    },

    /**
     * The upgrade path of each of these licensees of a channel, decided as
     * their polls would decide it now (the fleet view and the stuck gauge);
     * a licensee whose answer cannot depend on its installation has none.
     * An unknown channel: none.
     */
    async pathsFor(channelName: string, installs: Map<string, InstallFacts | null>): Promise<Map<string, PathDecision>> {
      const out = new Map<string, PathDecision>();
      let read: ChannelRead;
      try {
        read = await channelRead(channelName);
      } catch (err) {
        if (err instanceof ChannelNotFoundError) return out;
        throw err;
      }
      if (read.pathSides.size === 0) return out;
      const t = now();
      for (const [sub, installed] of installs) {
        if (sub === ANONYMOUS_SUB || !read.pathSides.has(sideOf(read, sub))) continue;
        const decision = resolveRelease({ ...read.state, licensee: licenseeOf(sub, undefined), path: { held: read.held, targets: read.targets, installed, now: t, soakMs } });
        if (decision.path) out.set(sub, decision.path);
      }
      return out;
    },

    /** Whether any licensee's answer on the channel can depend on its installation now (its path). */
    async pathsMatterOn(channelName: string): Promise<boolean> {
      try {
        return (await channelRead(channelName)).pathSides.size > 0;
      } catch (err) {
        if (err instanceof ChannelNotFoundError) return false;
        throw err;
      }
    },

    /**
     * The spec of a release of a channel for a licensee, as its pinned poll
     * would get it, without the pin's entitlement and path checks: the
     * further steps of an upgrade path in a bundle (docs/api.md §11), which
     * the licensee installs in order offline.
     */
    async releaseSpec(channelName: string, releaseId: string, sub: string): Promise<SerializedSpec> {
      const own = overrides.get(sub);
      const read = await channelRead(channelName);
      const key = own ? `b\0${channelName}\0${releaseId}\0${sub}` : `b\0${channelName}\0${releaseId}`;
      const entry = await loadEntry(key, async () => {
        const release = read.known.get(releaseId) ?? (await store.releases.findByRef(releaseId));
        if (!release) throw new ReleaseNotFoundError(releaseId);
        return { spec: serializeSpec(buildSpec(read.channel, release, { overrides: own, pinned: true }), release, read.channel.name), state: read.state };
      }, read.generation);
      return entry.spec;
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
      lastPathAnswers.clear();
    },

    stats() {
      return { hits, misses, size: cache.size, max: cache.max };
    },
  };
}
export type SpecService = ReturnType<typeof specService>;
