// The verified-license cache: which Authorization headers (by digest) were
// verified already, so that a warm poll needs no signature check.
//
// One Map in least-recently-used order: a hit deletes and re-inserts its
// entry, so the Map's insertion order is the order of last use and the
// first key is the one to evict when the cache is full. An entry is served
// until the license's own `exp` (on the wall clock, as `exp` is), however
// long that is: the operator polls hourly, so an entry must outlive the
// hour for a fleet to be served warm (docs/decisions.md). Revocation is not
// the cache's business: the poll gate checks it on every poll.
//
// Why not lru-cache: with `max` it allocates its arrays for every slot up
// front (about 5 MB at the default 200,000 entries, used or not; measured
// in docs/performance.md, Memory), where a Map entry costs only itself.
export interface Cacheable {
  /** Seconds since the epoch: the entry is not served from this instant on. */
  exp: number;
}

export class LicenseCache<V extends Cacheable> {
  #map = new Map<string, V>();
  readonly max: number;
  readonly #now: () => number;

  constructor(opts: { max: number; now: () => number }) {
    this.max = opts.max;
    this.#now = opts.now;
  }

  /** The entry for `key` if it is still valid, now the most recently used. */
  get(key: string): V | undefined {
    const value = this.#map.get(key);
    if (value === undefined) return undefined;
    this.#map.delete(key);
    if (value.exp * 1000 <= this.#now()) return undefined; // expired: gone for good
    this.#map.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    // Stored again (re-verified): the old copy goes, so no key is counted twice.
    if (!this.#map.delete(key)) {
      // Full: the least recently used entries go (a Map iterates in insertion order).
      while (this.#map.size >= this.max) this.#map.delete(this.#map.keys().next().value as string);
    }
    this.#map.set(key, value);
  }

  /** Drops every entry `drop` says so of; returns how many. One pass over the cache. */
  deleteWhere(drop: (value: V) => boolean): number {
    let dropped = 0;
    for (const [key, value] of this.#map) {
      if (drop(value)) {
        this.#map.delete(key); // deleting the current entry is safe while iterating a Map
        dropped++;
      }
    }
    return dropped;
  }

  clear(): void {
    this.#map = new Map();
  }

  get size(): number {
    return this.#map.size;
  }
}
