// The cohort of a rollout (docs/api.md §7), exactly as the contract states
// it so that anyone can compute it from a spreadsheet:
//   position(sub) = uint64_be(first 8 bytes of SHA-256(salt + ":" + sub)) / 2^64
// (the string hashed as UTF-8). A licensee is in the cohort at percent p
// when its sub is in `include` (also when it is in `exclude` too), or it is
// not in `exclude` and position(sub) < p / 100. The comparison is exact, in
// integers: numerator * 100 < p * 2^64. Pure; tested against an independent
// computation in test/domain/cohort.test.ts.
import { createHash } from "node:crypto";

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
