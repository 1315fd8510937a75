// The cohort formula of docs/api.md §7 (src/domain/cohort.ts) against
// independent computations: openssl's SHA-256 for hundreds of subs (one
// openssl process over many files), and for thousands node's hex digest
// parsed by hand with the cohort decided by integer division instead of the
// module's comparison. Percent is monotonic, with include and exclude
// lists too; include wins over exclude; 0 % is only `include`, 100 %
// everyone but `exclude`; a Set of subs decides exactly like the array.
// cohortTest (the warm poll's compiled form) agrees with inCohort for every
// sub and percent, and its bound is exact at the boundaries.
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { createHash } from "node:crypto";
import t from "tap";
import { TWO_POW_64, belowPercent, cohortBound, cohortMembership, cohortPosition, cohortTest, digestBelow, inCohort, type Cohort } from "../../src/domain/cohort.js";
import { tempDir } from "../helpers/db.js";

const exec = promisify(execFile);

/** Subs of every kind a license may carry: ASCII, spaces, "/", non-ASCII (hashed as UTF-8). */
function subs(n: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const kind = i % 4;
    out.push(kind === 0 ? `customer-${i}` : kind === 1 ? `org ${i}/cluster` : kind === 2 ? `clé-${i}-日本` : `${i}@example.com`);
  }
  return out;
}

/** The cohort by the other code path: floor(n * 100 / 2^64) < percent, with n parsed from hex. */
function independentIn(hexPrefix: string, percent: number): boolean {
  const n = BigInt(`0x${hexPrefix}`);
  return (n * 100n) / TWO_POW_64 < BigInt(percent);
}

t.test("a fixed vector: the formula, frozen", async (t) => {
  // printf 'rollout-1:customer-1' | openssl dgst -sha256  →  d4a883f2f7f3387b…
  const p = cohortPosition("rollout-1", "customer-1");
  t.equal(p.numerator, 0xd4a883f2f7f3387bn);
  t.equal(p.numerator, 15323642811693348987n);
  t.ok(Math.abs(p.value - 0.8306963413414906) < 1e-15, `position ${p.value}`);
  t.notOk(inCohort({ percent: 83, include: [], exclude: [], salt: "rollout-1" }, "customer-1"), "0.8307 is not below 0.83");
  t.ok(inCohort({ percent: 84, include: [], exclude: [], salt: "rollout-1" }, "customer-1"), "0.8307 is below 0.84");
});

t.test("against openssl dgst -sha256 for 400 subs", async (t) => {
  const dir = tempDir(t);
  const list = subs(400);
  const salt = "0b1c0f6e-rollout";
  const files = list.map((sub, i) => {
    const f = join(dir, `in-${i}`);
    writeFileSync(f, `${salt}:${sub}`, "utf8");
    return f;
  });
  const { stdout } = await exec("openssl", ["dgst", "-sha256", "-r", ...files], { maxBuffer: 16 * 1024 * 1024 });
  const byFile = new Map(stdout.trim().split("\n").map((l) => [l.slice(66).replace(/^\*/, ""), l.slice(0, 64)] as const));
  let checked = 0;
  list.forEach((sub, i) => {
    const hex = byFile.get(files[i]!)!;
    const p = cohortPosition(salt, sub);
    if (p.numerator !== BigInt(`0x${hex.slice(0, 16)}`)) t.fail(`${sub}: ${p.numerator.toString(16)} vs openssl ${hex.slice(0, 16)}`);
    for (const percent of [0, 1, 5, 25, 50, 99, 100]) {
      if (inCohort({ percent, include: [], exclude: [], salt }, sub) !== independentIn(hex.slice(0, 16), percent)) t.fail(`${sub} at ${percent} %`);
      checked++;
    }
  });
  t.equal(checked, 400 * 7, "every sub at every percent agrees with openssl");
});

t.test("against hand-parsed node digests for 5000 subs; monotonic in percent; about p % are in", async (t) => {
  const list = subs(5000);
  const salt = "salt-2";
  const counts = new Array<number>(101).fill(0);
  let disagreements = 0;
  let nonMonotonic = 0;
  for (const sub of list) {
    const hex = createHash("sha256").update(Buffer.from(`${salt}:${sub}`, "utf8")).digest("hex").slice(0, 16);
    let wasIn = false;
    for (let percent = 0; percent <= 100; percent++) {
      const isIn = inCohort({ percent, include: [], exclude: [], salt }, sub);
      if (isIn !== independentIn(hex, percent)) disagreements++;
      if (wasIn && !isIn) nonMonotonic++;
      if (isIn) counts[percent]!++;
      wasIn = isIn;
    }
  }
  t.equal(disagreements, 0, "5000 subs × 101 percents agree");
  t.equal(nonMonotonic, 0, "a sub in at p is in at every q > p");
  t.equal(counts[0], 0, "nobody at 0 %");
  t.equal(counts[100], 5000, "everybody at 100 %");
  for (const p of [5, 25, 50, 75]) {
    const share = counts[p]! / 5000;
    t.comment(`${p} %: ${(share * 100).toFixed(2)} % of 5000 subs`);
    t.ok(Math.abs(share - p / 100) < 0.03, `${p} %: the share is close (${share})`);
  }
});

t.test("include and exclude", async (t) => {
  const salt = "s";
  const base: Cohort = { percent: 0, include: ["canary"], exclude: ["bigbank", "canary"], salt };
  t.match(cohortMembership(base, "canary"), { in: true, by: "include", alsoExcluded: true }, "a sub in both lists is in");
  t.match(cohortMembership(base, "bigbank"), { in: false, by: "exclude" });
  t.match(cohortMembership(base, "other"), { in: false, by: "position" }, "0 %: only include");
  const all: Cohort = { ...base, percent: 100 };
  t.ok(inCohort(all, "other"), "100 %: everyone");
  t.notOk(inCohort(all, "bigbank"), "100 %: but exclude");
  t.ok(inCohort(all, "canary"), "100 %: include still wins");
  // Exactness at the boundary: the largest position below 1/2 is in at 50, 2^63 itself is not.
  const half = TWO_POW_64 / 2n;
  t.ok(belowPercent({ numerator: half - 1n, value: 0.5 }, 50), "2^63 - 1 is below 50 %");
  t.notOk(belowPercent({ numerator: half, value: 0.5 }, 50), "2^63 is not below 50 %");
  t.notOk(belowPercent({ numerator: TWO_POW_64 - 1n, value: 1 }, 99), "the last position is not below 99 %");
  t.ok(belowPercent({ numerator: TWO_POW_64 - 1n, value: 1 }, 100), "every position is below 100 %");
  for (const bad of [-1, 101, 2.5, Number.NaN]) t.throws(() => inCohort({ ...base, percent: bad }, "x"), RangeError, `percent ${bad} is refused`);
});

t.test("with include and exclude lists, arrays and Sets alike, for 3000 subs: the independent formula, monotonic", async (t) => {
  const list = subs(3000);
  const salt = "lists-salt";
  // Every 7th sub included, every 5th excluded: every 35th is in both.
  const includeArr = list.filter((_, i) => i % 7 === 0);
  const excludeArr = list.filter((_, i) => i % 5 === 0);
  const both = new Set(includeArr.filter((s) => excludeArr.includes(s)));
  t.ok(both.size > 50, `${both.size} subs are in both lists`);
  const includeSet = new Set(includeArr);
  const excludeSet = new Set(excludeArr);
  let disagreements = 0;
  let setArrayDiffer = 0;
  let nonMonotonic = 0;
  let wrongRule = 0;
  for (const sub of list) {
    const hex = createHash("sha256").update(Buffer.from(`${salt}:${sub}`, "utf8")).digest("hex").slice(0, 16);
    let wasIn = false;
    for (const percent of [0, 1, 2, 5, 10, 25, 33, 50, 66, 75, 90, 99, 100]) {
      // The contract's sentence, written independently: in `include`, or not in `exclude` and below p %.
      const want = includeArr.includes(sub) || (!excludeArr.includes(sub) && independentIn(hex, percent));
      const fromArrays = cohortMembership({ percent, include: includeArr, exclude: excludeArr, salt }, sub);
      const fromSets = cohortMembership({ percent, include: includeSet, exclude: excludeSet, salt }, sub);
      if (fromArrays.in !== want) disagreements++;
      if (fromSets.in !== fromArrays.in || fromSets.by !== fromArrays.by) setArrayDiffer++;
      const rule = includeSet.has(sub) ? "include" : excludeSet.has(sub) ? "exclude" : "position";
      if (fromSets.by !== rule || (rule === "include" && fromSets.by === "include" && fromSets.alsoExcluded !== both.has(sub))) wrongRule++;
      if (wasIn && !fromSets.in) nonMonotonic++;
      wasIn = fromSets.in;
    }
  }
  t.equal(disagreements, 0, "3000 subs × 13 percents agree with the independent formula");
  t.equal(setArrayDiffer, 0, "a Set decides exactly like the array of the same subs");
  t.equal(wrongRule, 0, "each answer names the rule that decided it (include over exclude, alsoExcluded for both)");
  t.equal(nonMonotonic, 0, "with lists too, nobody leaves the cohort as the percent rises");
  for (const sub of both) {
    if (!inCohort({ percent: 0, include: includeSet, exclude: excludeSet, salt }, sub)) t.fail(`${sub} is in both lists: in at 0 %`);
  }
  const excludedOnly = excludeArr.filter((s) => !both.has(s));
  t.equal(excludedOnly.filter((s) => inCohort({ percent: 100, include: includeSet, exclude: excludeSet, salt }, s)).length, 0, "excluded (and not included): out even at 100 %");
});

t.test("empty Sets and arrays are the same as no lists", async (t) => {
  const salt = "empty";
  for (const sub of subs(200)) {
    for (const percent of [0, 50, 100]) {
      const a = inCohort({ percent, include: [], exclude: [], salt }, sub);
      const s = inCohort({ percent, include: new Set(), exclude: new Set(), salt }, sub);
      if (a !== s) t.fail(`${sub} at ${percent} %`);
    }
  }
  t.pass("200 subs × 3 percents");
  // A Set of include but an array of exclude (the mixes a caller may pass).
  t.match(cohortMembership({ percent: 0, include: new Set(["x"]), exclude: ["x"], salt }, "x"), { in: true, by: "include", alsoExcluded: true });
  t.match(cohortMembership({ percent: 100, include: ["y"], exclude: new Set(["x"]), salt }, "x"), { in: false, by: "exclude" });
});

t.test("cohortTest answers inCohort for 3000 subs at every percent, with include and exclude", async (t) => {
  const list = [...subs(3000), "canary", "bigbank", ""];
  const include = ["canary", "customer-8"];
  const exclude = ["bigbank", "canary", "org 9/cluster"];
  let disagreements = 0;
  let checked = 0;
  for (const percent of Array.from({ length: 101 }, (_, p) => p)) {
    for (const lists of [{ include, exclude }, { include: new Set(include), exclude: new Set(exclude) }, { include: [], exclude: [] }]) {
      const c: Cohort = { percent, salt: `salt-${percent % 7}`, ...lists };
      const test = cohortTest(c);
      for (const sub of list) {
        if (test(sub) !== inCohort(c, sub)) disagreements++;
        checked++;
      }
    }
  }
  t.equal(checked, 101 * 3 * 3003);
  t.equal(disagreements, 0, "every sub, percent and kind of list agrees");
  t.ok(cohortTest({ percent: 0, include: ["canary"], exclude: ["canary"], salt: "s" })("canary"), "include wins over exclude");
  t.notOk(cohortTest({ percent: 100, include: [], exclude: ["bigbank"], salt: "s" })("bigbank"), "100 %: but exclude");
  t.ok(cohortTest({ percent: 83, include: [], exclude: [], salt: "rollout-1" })("customer-1") === false && cohortTest({ percent: 84, include: [], exclude: [], salt: "rollout-1" })("customer-1"), "the frozen vector: 0.8307 is out at 83 %, in at 84 %");
});

t.test("cohortBound and digestBelow: exact at every percent's boundary", async (t) => {
  /** A digest whose first 8 bytes are n (big-endian), as the "binary" string crypto.hash returns. */
  const digestOf = (n: bigint) => Buffer.from(n.toString(16).padStart(16, "0") + "ab".repeat(24), "hex").toString("latin1");
  let checked = 0;
  for (let percent = 0; percent <= 100; percent++) {
    const bound = cohortBound(percent);
    const t64 = (BigInt(percent) * TWO_POW_64 + 99n) / 100n; // the least n with n * 100 >= percent * 2^64
    for (const n of [0n, 1n, t64 - 2n, t64 - 1n, t64, t64 + 1n, (t64 >> 32n) << 32n, ((t64 >> 32n) << 32n) - 1n, TWO_POW_64 - 1n]) {
      if (n < 0n || n >= TWO_POW_64) continue;
      const want = belowPercent({ numerator: n, value: Number(n) / 2 ** 64 }, percent);
      if (digestBelow(digestOf(n), bound) !== want) t.fail(`${percent} %: numerator ${n.toString(16)}`);
      checked++;
    }
  }
  t.ok(checked > 700, `${checked} boundary numerators agree with belowPercent`);
  t.same(cohortBound(100), { hi: 2 ** 32, lo: 0 }, "100 %: the bound is 2^64, above every numerator");
  t.same(cohortBound(0), { hi: 0, lo: 0 }, "0 %: no numerator is below it");
  t.same(cohortBound(50), { hi: 2 ** 31, lo: 0 }, "50 %: 2^63");
  for (const bad of [-1, 101, 2.5]) t.throws(() => cohortBound(bad), RangeError, `percent ${bad} is refused`);
});
