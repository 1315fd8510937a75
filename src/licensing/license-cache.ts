// The verified-license cache: which Authorization headers (by digest) were
// verified recently, so that a warm poll needs no signature check.
//
// Two generations of plain Maps, the "young" one taking every new entry.
// Every `generationMs` the old generation is dropped and the young one
// becomes old, so an entry is served for at least one and at most two
// generations after it was stored (with the default, 5 to 10 minutes), and
// never past the license's own `exp` (checked by the caller on every hit).
// The generations run on a monotonic clock, so a wall clock set back does
// not stretch an entry's life.
// A hit does not extend an entry's life: every license is re-verified at
// least every two generations, whatever its `exp`.
//
// Why not lru-cache: with `max` it allocates its arrays for every slot up
// front, and per-entry ttls add two more (about 8 MB at the default 200,000
// entries, used or not); here an entry costs one Map entry and nothing else
// (docs/performance.md, Memory). The bound is the same: at most `max`
// entries in both generations together, the oldest evicted first.
export class LicenseCache<V> {
  #young = new Map<string, V>();
  #old = new Map<string, V>();
  #rotatesAt: number;
  readonly max: number;
  readonly #generationMs: number;
  readonly #now: () => number;

  constructor(opts: { max: number; generationMs: number; now: () => number }) {
    this.max = opts.max;
    this.#generationMs = opts.generationMs;
    this.#now = opts.now;
    this.#rotatesAt = this.#now() + this.#generationMs;
  }

  /**
   * Generations keep a fixed schedule: the young one holds what was stored
   * since `#rotatesAt - generationMs`, so nothing old outlives two of them.
   */
  #rotate(): void {
    const t = this.#now();
    const gen = this.#generationMs;
    // Still within the young generation.
    if (t >= this.#rotatesAt - gen && t < this.#rotatesAt) return;
    if (t >= this.#rotatesAt && t < this.#rotatesAt + gen) {
      this.#old = this.#young;
      this.#young = new Map();
      this.#rotatesAt += gen;
      return;
    }
    // Two generations or more have passed (everything is too old), or the
    // clock went back (an injected wall clock; the verifier's default is
    // monotonic) and no entry's age can be told: start again from now.
    this.clear();
    this.#rotatesAt = t + gen;
  }

  get(key: string): V | undefined {
    this.#rotate();
    return this.#young.get(key) ?? this.#old.get(key);
  }

  set(key: string, value: V): void {
    this.#rotate();
    // Stored again (re-verified): the old copy goes, so no key is counted twice.
    this.#old.delete(key);
    if (!this.#young.has(key)) {
      while (this.#young.size + this.#old.size >= this.max) {
        // Maps iterate in insertion order: the first key is the oldest.
        const gen = this.#old.size > 0 ? this.#old : this.#young;
        gen.delete(gen.keys().next().value as string);
      }
    }
    this.#young.set(key, value);
  }

  clear(): void {
    this.#young = new Map();
    this.#old = new Map();
  }

  get size(): number {
    return this.#young.size + this.#old.size;
  }
}
