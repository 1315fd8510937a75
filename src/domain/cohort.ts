// The cohort of a rollout (docs/api.md §7), exactly as the contract states
// it so that anyone can compute it from a spreadsheet:
//   position(sub) = uint64_be(first 8 bytes of SHA-256(salt + ":" + sub)) / 2^64
// (the string hashed as UTF-8). A licensee is in the cohort at percent p
// when its sub is in `include` (also when it is in `exclude` too), or it is
// not in `exclude` and position(sub) < p / 100. The comparison is exact, in
// integers: numerator * 100 < p * 2^64. Pure; tested against an independent
// computation in test/domain/cohort.test.ts. cohortTest() is the same rule
// for the warm poll, which asks it at every poll of a channel with a
// rollout: the bound computed once, one one-shot SHA-256 and no BigInt, no
// Buffer, no object per call (docs/performance.md, Rollouts).
import { createHash, hash } from "node:crypto";

export const TWO_POW_64 = 1n << 64n;

/** Where a sub falls in [0, 1): the exact numerator over 2^64, and the same as a number (for display). */
export interface CohortPosition {
  numerator: bigint;
  value: number;
}

export function cohortPosition(salt: string, sub: string): CohortPosition {
  const digest = createHash("sha256").update(`${salt}:${sub}`, "utf8").digest();
  const numerator = digest.readBigUInt64BE(0);
  return { numerator, value: Number(numerator) / 2 ** 64 };
}

/** A list of subs: an array, or a Set when it is asked at every poll. */
export type SubList = readonly string[] | ReadonlySet<string>;

export interface Cohort {
  /** An integer from 0 to 100. */
  percent: number;
  include: SubList;
  exclude: SubList;
  salt: string;
}

function has(list: SubList, sub: string): boolean {
  return Array.isArray(list) ? list.includes(sub) : (list as ReadonlySet<string>).has(sub);
}

/** Why a sub is in or out: named by the rule that decided it. */
export type Membership =
  | { in: true; by: "include"; alsoExcluded: boolean }
  | { in: false; by: "exclude" }
  | { in: boolean; by: "position"; position: CohortPosition };

function checkPercent(percent: number): void {
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new RangeError(`a cohort's percent is an integer from 0 to 100, not ${percent}`);
}

/** Whether `position` is below `percent` / 100, exactly. */
export function belowPercent(position: CohortPosition, percent: number): boolean {
  checkPercent(percent);
  return position.numerator * 100n < BigInt(percent) * TWO_POW_64;
}

/** Whether `sub` is in the cohort, and which rule says so. */
export function cohortMembership(c: Cohort, sub: string): Membership {
  checkPercent(c.percent);
  if (has(c.include, sub)) return { in: true, by: "include", alsoExcluded: has(c.exclude, sub) };
  if (has(c.exclude, sub)) return { in: false, by: "exclude" };
  const position = cohortPosition(c.salt, sub);
  return { in: belowPercent(position, c.percent), by: "position", position };
}

export function inCohort(c: Cohort, sub: string): boolean {
  return cohortMembership(c, sub).in;
}

/**
 * The least integer T with T * 100 >= percent * 2^64, as two 32-bit halves:
 * for an integer numerator, numerator < T exactly when numerator * 100 <
 * percent * 2^64 (belowPercent's rule). At 100 %, T = 2^64 (hi = 2^32):
 * every numerator is below it.
 */
export interface CohortBound {
  hi: number;
  lo: number;
}

export function cohortBound(percent: number): CohortBound {
  checkPercent(percent);
  const t = (BigInt(percent) * TWO_POW_64 + 99n) / 100n;
  return { hi: Number(t >> 32n), lo: Number(t & 0xffffffffn) };
}

/** Whether the first 8 bytes of a digest (a "binary" string: one char per byte), big-endian, are below the bound. */
export function digestBelow(digest: string, bound: CohortBound): boolean {
  const hi = ((digest.charCodeAt(0) << 24) | (digest.charCodeAt(1) << 16) | (digest.charCodeAt(2) << 8) | digest.charCodeAt(3)) >>> 0;
  if (hi !== bound.hi) return hi < bound.hi;
  const lo = ((digest.charCodeAt(4) << 24) | (digest.charCodeAt(5) << 16) | (digest.charCodeAt(6) << 8) | digest.charCodeAt(7)) >>> 0;
  return lo < bound.lo;
}

const asSet = (list: SubList): ReadonlySet<string> => (Array.isArray(list) ? new Set(list) : (list as ReadonlySet<string>));

/**
 * inCohort(c, sub) as a function of sub, for one cohort: the same answer
 * for every sub (test/domain/cohort.test.ts), cheaper per call.
 */
export function cohortTest(c: Cohort): (sub: string) => boolean {
  const bound = cohortBound(c.percent);
  const include = asSet(c.include);
  const exclude = asSet(c.exclude);
  const prefix = `${c.salt}:`;
  // crypto.hash hashes a string as UTF-8, like cohortPosition's update(…, "utf8").
  return (sub) => include.has(sub) || (!exclude.has(sub) && digestBelow(hash("sha256", prefix + sub, "binary"), bound));
}
