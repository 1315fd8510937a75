// Resolves and caches the serialized spec per channel (and per pinned
// release, and per licensee with overrides). A warm poll is one Map lookup;
// every catalog or override change empties the cache, and a load that
// started before the change never stores its stale result.
import { LRUCache } from "lru-cache";
import { ChannelEmptyError, ChannelNotFoundError, ReleaseNotEntitledError, ReleaseNotFoundError } from "../errors.js";
import type { Values } from "../domain/values.js";
import type { Store } from "../repositories/store.js";
import { buildSpec, serializeSpec, type SerializedSpec } from "./spec.js";
import { ANONYMOUS_SUB } from "../licensing/anonymous.js";

type SpecStore = Pick<Store, "channels" | "releases" | "events" | "licenses">;

/** A cached answer: a spec, or the error a request for it gets. */
type Entry = { spec: SerializedSpec } | { error: Error };

export interface SpecServiceOptions {
  /** Bound on cached entries (channels × pinned refs × licensees with overrides). */
  maxEntries?: number;
}

export function specService(store: SpecStore, opts: SpecServiceOptions = {}) {
  const cache = new LRUCache<string, Entry>({ max: opts.maxEntries ?? 10_000 });
  const inflight = new Map<string, Promise<Entry>>();
  let overrides = new Map<string, Values>();
  let generation = 0;
  let hits = 0;
  let misses = 0;

  function settle(entry: Entry): SerializedSpec {
    if ("error" in entry) throw entry.error;
    return entry.spec;
  }

  function load(key: string, build: () => Promise<SerializedSpec>): SerializedSpec | Promise<SerializedSpec> {
    const cached = cache.get(key);
    if (cached) {
      hits++;
      return settle(cached);
    }
    misses++;
    let pending = inflight.get(key);
    if (!pending) {
      const gen = generation;
      pending = build()
        .then((spec): Entry => ({ spec }))
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

  /** The cache key of a channel's spec: per licensee only for licensees with overrides. */
  function channelKey(channelName: string, subWithOverrides: string | undefined): string {
    return subWithOverrides === undefined ? `c\0${channelName}` : `c\0${channelName}\0${subWithOverrides}`;
  }

  async function channelAndRelease(name: string) {
    const channel = await store.channels.findByName(name);
    if (!channel) throw new ChannelNotFoundError(name);
    const release = channel.releaseId ? await store.releases.findByRef(channel.releaseId) : null;
    if (!release) throw new ChannelEmptyError(name);
    return { channel, release };
  }

  return {
    /** The spec of a channel for a licensee. */
    channelSpec(channelName: string, sub: string): SerializedSpec | Promise<SerializedSpec> {
      const own = overrides.get(sub);
      return load(channelKey(channelName, own ? sub : undefined), async () => {
        const { channel, release } = await channelAndRelease(channelName);
        return serializeSpec(buildSpec(channel, release, { overrides: own }), release, channel.name);
      });
    },

    /**
     * The channel's spec for a licensee when it is cached and servable,
     * else undefined; counts nothing (the caller counts a hit with
     * countHit() when it answers with it; otherwise channelSpec() decides
     * and counts).
     */
    cachedChannelSpec(channelName: string, sub: string): SerializedSpec | undefined {
      const entry = cache.get(channelKey(channelName, overrides.has(sub) ? sub : undefined));
      return entry && "spec" in entry ? entry.spec : undefined;
    },

    /** One answer served from cachedChannelSpec(). */
    countHit(): void {
      hits++;
    },

    /**
     * A pinned release: served when it has at some time been the release of
     * the licensee's channel and is not yanked.
     */
    pinnedSpec(channelName: string, ref: string, sub: string): SerializedSpec | Promise<SerializedSpec> {
      const own = overrides.get(sub);
      const key = own ? `p\0${channelName}\0${ref}\0${sub}` : `p\0${channelName}\0${ref}`;
      return load(key, async () => {
        const release = await store.releases.findByRef(ref);
        if (!release) throw new ReleaseNotFoundError(ref);
        const channel = await store.channels.findByName(channelName);
        if (!channel) throw new ChannelNotFoundError(channelName);
        if (release.yankedAt || !(await store.events.everHeld(channel.id, release.id))) throw new ReleaseNotEntitledError(release.version);
        return serializeSpec(buildSpec(channel, release, { overrides: own, pinned: true }), release, channel.name);
      });
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
    },

    stats() {
      return { hits, misses, size: cache.size, max: cache.max };
    },
  };
}
export type SpecService = ReturnType<typeof specService>;
