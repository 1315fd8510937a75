// The bake time of a rollout step (docs/api.md §7): a whole number and one
// unit, s, m, h or d ("30s", "15m", "2h", "3d"), from 0s to 365d. Stored as
// written; the scheduler reads it in milliseconds (bakeMs).

export const BAKE = /^(\d{1,6})(s|m|h|d)$/;
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export const MAX_BAKE_MS = 365 * UNIT_MS.d!;

/** The bake in milliseconds, or undefined when it is not a bake time this server takes. */
export function parseBake(s: string): number | undefined {
  const m = BAKE.exec(s);
  if (!m) return undefined;
  const ms = Number(m[1]) * UNIT_MS[m[2]!]!;
  return ms <= MAX_BAKE_MS ? ms : undefined;
}

/** A bake known to be valid (read back from the store) in milliseconds. */
export function bakeMs(s: string): number {
  const ms = parseBake(s);
  if (ms === undefined) throw new RangeError(`not a bake time: ${JSON.stringify(s)}`);
  return ms;
}

/**
 * A wait in the units bakes are written in, at most two of them, rounded up
 * (never less than the wait): "1h10m", "40m", "3d2h", "45s".
 */
export function durationText(ms: number): string {
  const units = [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1_000]] as const;
  const bigOf = (v: number) => Math.min(units.findIndex(([, u]) => v >= u), units.length - 1);
  // Round up to the smaller of the two units shown; a carry (59m59.5s → 1h) rounds once more, to the new pair.
  let v = Math.max(1_000, ms);
  for (;;) {
    const big = bigOf(v);
    const step = units[Math.min(big + 1, units.length - 1)]![1];
    const r = Math.ceil(v / step) * step;
    const same = bigOf(r) === big;
    v = r;
    if (same) break;
  }
  const big = bigOf(v);
  const [bigName, bigMs] = units[big]!;
  const n = Math.floor(v / bigMs);
  if (big === units.length - 1) return `${n}${bigName}`;
  const [smallName, smallMs] = units[big + 1]!;
  const m = Math.round((v - n * bigMs) / smallMs);
  return m > 0 ? `${n}${bigName}${m}${smallName}` : `${n}${bigName}`;
}
