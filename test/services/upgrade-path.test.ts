// Table tests of the upgrade-path rule (docs/api.md §8,
// src/services/upgrade-path.ts): installed version, target, the channel's
// releases (required, upgradeFrom, yanked), reports and soak → the release
// served, the state, and the path as text.
import t from "tap";
import { pathMatters, upgradePath, type InstallFacts, type PathInput, type PathRelease, type PathState } from "../../src/services/upgrade-path.js";

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 11, 1, 12);

function rel(version: string, o: Partial<PathRelease> = {}): PathRelease {
  return { id: `id-${version}`, version, required: false, requiredReason: null, upgradeFrom: null, yanked: false, ...o };
}
const req = (version: string, reason = "schema migration", o: Partial<PathRelease> = {}) => rel(version, { required: true, requiredReason: reason, ...o });

/** Last served `version` `ago` ms ago (after `previous`), with these latest reports (state@version, `ago` ms ago). */
function installed(version: string | null, ago = 10 * HOUR, reports: [string, InstallFacts["reports"][number]["state"], number?][] = [], previous: string | null = null): InstallFacts {
  return {
    served: version === null ? null : { id: `id-${version}`, version, since: NOW - ago, previous: previous === null ? null : { id: `id-${previous}`, version: previous } },
    reports: reports.map(([v, state, at]) => ({ id: `id-${v}`, version: v, state, at: NOW - (at ?? HOUR) })),
  };
}

function input(installedFacts: InstallFacts | null, target: PathRelease, releases: PathRelease[]): PathInput {
  return { installed: installedFacts, target, releases, now: NOW, soakMs: HOUR };
}

const v58 = rel("0.58.0");
const v59r = req("0.59.0");
const v60 = rel("0.60.0");
const v61 = rel("0.61.0");

const table: { name: string; input: PathInput; serve: string; state: PathState; text?: string; detail?: RegExp }[] = [
  { name: "fresh install: the target at once", input: input(null, v61, [v58, v59r, v60]), serve: "0.61.0", state: "fresh", text: "fresh install → 0.61.0" },
  { name: "no facts at all (no served, no report): fresh", input: input(installed(null), v61, [v59r]), serve: "0.61.0", state: "fresh" },
  { name: "on the target: current", input: input(installed("0.61.0"), v61, [v58, v59r, v60, v61]), serve: "0.61.0", state: "current" },
  { name: "above the target (a rollback): the target, no path", input: input(installed("0.62.0"), v61, [v59r]), serve: "0.61.0", state: "current", detail: /downgrade/ },
  {
    name: "installed 0.58.0, 0.59.0 required: the stepping stone",
    input: input(installed("0.58.0"), v61, [v58, v59r, v60]),
    serve: "0.59.0",
    state: "stepping-stone",
    text: 'installed 0.58.0 → 0.59.0 (required: "schema migration") → 0.61.0',
    detail: /0\.59\.0 is required \(schema migration\); not yet served 0\.59\.0/,
  },
  { name: "on the stone, just served: held there", input: input(installed("0.59.0", 5 * 60_000, [["0.58.0", "healthy", 2 * HOUR]]), v61, [v58, v59r, v60]), serve: "0.59.0", state: "stepping-stone", detail: /waiting for a healthy report on 0\.59\.0, or 55m more/ },
  { name: "on the stone, just served, no reports: held there (installed: the release before)", input: input(installed("0.59.0", 5 * 60_000, [], "0.58.0"), v61, [v58, v59r, v60]), serve: "0.59.0", state: "stepping-stone", detail: /^installed 0\.58\.0 \(served\).*waiting for a healthy report on 0\.59\.0, or 55m more/ },
  { name: "healthy report on the stone: moves on", input: input(installed("0.59.0", 5 * 60_000, [["0.59.0", "healthy", 60_000]], "0.58.0"), v61, [v58, v59r, v60]), serve: "0.61.0", state: "direct", detail: /^installed 0\.59\.0 \(report\)/ },
  { name: "healthy on the stone, an older healthy report before it: moves on", input: input(installed("0.59.0", 5 * 60_000, [["0.59.0", "healthy", 60_000], ["0.58.0", "healthy", 2 * HOUR]]), v61, [v58, v59r, v60]), serve: "0.61.0", state: "direct" },
  { name: "served the stone for the soak, no report: moves on", input: input(installed("0.59.0", HOUR + 1, [], "0.58.0"), v61, [v58, v59r, v60]), serve: "0.61.0", state: "direct", detail: /^installed 0\.59\.0 \(served\)/ },
  { name: "soaked stone with an old healthy report before it: passed by the soak", input: input(installed("0.59.0", HOUR + 1, [["0.58.0", "healthy", 2 * HOUR]]), v61, [v58, v59r, v60]), serve: "0.61.0", state: "direct", detail: /soak/ },
  { name: "served the stone for the soak but reported failed: held", input: input(installed("0.59.0", 3 * HOUR, [["0.59.0", "failed", 60_000]], "0.58.0"), v61, [v58, v59r, v60]), serve: "0.59.0", state: "stepping-stone", detail: /reported failed on 0\.59\.0/ },
  { name: "a floor's needed stone is held for its soak too", input: input(installed("0.60.0", 5 * 60_000, [], "0.58.0"), rel("0.61.0", { upgradeFrom: ">=0.60.0" }), [v58, v60]), serve: "0.60.0", state: "stepping-stone" },
  {
    name: "rolled back minutes ago (the release before is higher): installed is the lower, the floor applies",
    input: input(installed("0.58.1", 5 * 60_000, [], "0.61.0"), rel("0.62.0", { upgradeFrom: ">=0.61.0" }), [rel("0.58.1"), rel("0.61.0")]),
    serve: "0.61.0",
    state: "stepping-stone",
    detail: /^installed 0\.58\.1 \(served\)/,
  },
  { name: "rolled back minutes ago, a required stone between: not skipped", input: input(installed("0.60.0", 5 * 60_000, [], "0.62.0"), rel("0.63.0"), [rel("0.60.0"), req("0.61.0"), rel("0.62.0")]), serve: "0.61.0", state: "stepping-stone" },
  { name: "a release served minutes ago that is no stone: no hold", input: input(installed("0.60.0", 5 * 60_000, [], "0.59.0"), rel("0.61.0", { upgradeFrom: ">=0.59.0" }), [v58, v60]), serve: "0.61.0", state: "direct" },
  { name: "degraded does not hold a soaked stone", input: input(installed("0.59.0", 3 * HOUR, [["0.59.0", "degraded", 60_000]]), v61, [v58, v59r, v60]), serve: "0.61.0", state: "direct" },
  { name: "a failed report then a healthy one: moves on", input: input(installed("0.59.0", 3 * HOUR, [["0.59.0", "healthy", 60_000]]), v61, [v58, v59r, v60]), serve: "0.61.0", state: "direct" },
  { name: "a yanked required release is skipped", input: input(installed("0.58.0"), v61, [v58, req("0.59.0", "m", { yanked: true }), v60]), serve: "0.61.0", state: "direct" },
  {
    name: "two required releases in a row: the lower first",
    input: input(installed("0.58.0"), v61, [v58, v59r, req("0.60.0", "index rebuild")]),
    serve: "0.59.0",
    state: "stepping-stone",
    text: 'installed 0.58.0 → 0.59.0 (required: "schema migration") → 0.60.0 (required: "index rebuild") → 0.61.0',
  },
  { name: "two required: past the first, the second", input: input(installed("0.59.0", 2 * HOUR, [["0.59.0", "healthy"]]), v61, [v58, v59r, req("0.60.0", "index rebuild")]), serve: "0.60.0", state: "stepping-stone" },
  {
    name: "an upgrade floor: 0.61.0 only over >=0.60.0, so 0.60.0 is needed",
    input: input(installed("0.58.0"), rel("0.61.0", { upgradeFrom: ">=0.60.0" }), [v58, v60]),
    serve: "0.60.0",
    state: "stepping-stone",
    text: "installed 0.58.0 → 0.60.0 (upgrade floor) → 0.61.0",
    detail: /0\.61\.0 does not install over 0\.58\.0 \(upgradeFrom >=0\.60\.0\), 0\.60\.0 does/,
  },
  { name: "a floor: the lowest release that admits I (not the best one)", input: input(installed("0.58.0"), rel("0.61.0", { upgradeFrom: ">=0.60.0" }), [v58, rel("0.59.0"), v60]), serve: "0.59.0", state: "stepping-stone", text: "installed 0.58.0 → 0.59.0 (upgrade floor) → 0.60.0 (upgrade floor) → 0.61.0" },
  { name: "a floor the installed version meets: direct", input: input(installed("0.60.0"), rel("0.61.0", { upgradeFrom: ">=0.60.0" }), [v58, v60]), serve: "0.61.0", state: "direct" },
  {
    name: "a floor that excludes everything: no-upgrade-path, served what it has",
    input: input(installed("0.58.0"), rel("0.61.0", { upgradeFrom: ">=0.60.0" }), [v58, rel("0.60.0", { upgradeFrom: ">=0.59.0" })]),
    serve: "0.58.0",
    state: "no-upgrade-path",
    text: "installed 0.58.0 (no upgrade path)",
  },
  { name: "a stone that does not admit I is no stone", input: input(installed("0.57.0"), v61, [req("0.59.0", "m", { upgradeFrom: ">=0.58.0" })]), serve: "0.61.0", state: "direct" },
  { name: "a stone that does not admit I, and the target does not either: stuck", input: input(installed("0.57.0"), rel("0.61.0", { upgradeFrom: ">=0.59.0" }), [req("0.59.0", "m", { upgradeFrom: ">=0.58.0" })]), serve: "0.57.0", state: "no-upgrade-path" },
  { name: "a stone leading nowhere is still served (blocked after it)", input: input(installed("0.59.0", 2 * HOUR, [["0.59.0", "healthy"]]), rel("0.61.0", { upgradeFrom: ">=0.60.5" }), [v58, v59r, v60]), serve: "0.60.0", state: "stepping-stone" },
  { name: "stuck beyond every stone: served what it has", input: input(installed("0.60.0", 2 * HOUR, [["0.60.0", "healthy"]]), rel("0.61.0", { upgradeFrom: ">=0.60.5" }), [v58, v59r, v60]), serve: "0.60.0", state: "no-upgrade-path" },
  { name: "a required release below the installed version is no stone", input: input(installed("0.60.0"), v61, [v58, v59r, v60]), serve: "0.61.0", state: "direct" },
  { name: "a required release above the target is no stone", input: input(installed("0.58.0"), v60, [v58, req("0.61.0")]), serve: "0.60.0", state: "direct" },
  {
    name: "installed comes from the latest healthy report, not what was served",
    input: input(installed("0.60.0", 5 * 60_000, [["0.58.0", "healthy", 2 * HOUR]]), v61, [v58, v59r, v60]),
    serve: "0.61.0",
    state: "direct",
    detail: /already served 0\.60\.0, beyond 0\.59\.0/,
  },
  { name: "latest healthy report is the newest, not the highest", input: input(installed("0.58.0", 2 * HOUR, [["0.60.0", "healthy", 3 * HOUR], ["0.58.0", "healthy", HOUR]]), v61, [v58, v59r, v60]), serve: "0.59.0", state: "stepping-stone" },
  { name: "served the target already (reports lag): the target, no way back", input: input(installed("0.61.0", 60_000, [["0.58.0", "healthy"]]), v61, [v58, v59r, v60]), serve: "0.61.0", state: "current" },
  { name: "prereleases compare as semver does", input: input(installed("0.61.0-rc.1"), v61, [req("0.60.0")]), serve: "0.61.0", state: "direct" },
];

for (const row of table) {
  t.test(row.name, async (t) => {
    const d = upgradePath(row.input);
    t.equal(d.serve.version, row.serve, "served");
    t.equal(d.serve.id, `id-${row.serve}`, "served id");
    t.equal(d.state, row.state, "state");
    if (row.text) t.equal(d.text, row.text, "path text");
    if (row.detail) t.match(d.detail, row.detail, "detail");
    // The path ends at the target unless it is stuck; hops only go up.
    const versions = d.hops.map((h) => h.version);
    for (let i = 1; i < versions.length; i++) t.ok(versions[i - 1]! < versions[i]! || versions[i - 1]!.localeCompare(versions[i]!, undefined, { numeric: true }) < 0, `hops go up: ${versions.join(" → ")}`);
    if (!d.blocked) t.equal(d.hops.at(-1)?.version, row.input.target.version, "the path ends at the target");
    else t.match(d.text, /\(no upgrade path\)$/, "a blocked path says so");
    t.equal(d.blocked, d.state === "no-upgrade-path" || (d.state === "stepping-stone" && d.hops.at(-1)?.version !== row.input.target.version), "blocked when it ends before the target");
  });
}

t.test("pathMatters: only with an upgradeFrom on the target or a required release below it", async (t) => {
  t.equal(pathMatters(v61, [v58, v60]), false, "no required, no floor");
  t.equal(pathMatters(v61, [v58, v59r]), true, "a required release below");
  t.equal(pathMatters(v61, [req("0.59.0", "m", { yanked: true })]), false, "a yanked required release does not count");
  t.equal(pathMatters(v60, [req("0.61.0")]), false, "a required release above does not count");
  t.equal(pathMatters(req("0.61.0"), [req("0.61.0")]), false, "the target itself required does not count");
  t.equal(pathMatters(rel("0.61.0", { upgradeFrom: ">=0.60.0" }), []), true, "a floor on the target");
});

t.test("without pathMatters, every installation is served the target (the poll skips the facts exactly then)", async (t) => {
  const releases = [v58, rel("0.59.0"), v60];
  for (const facts of [null, installed("0.58.0"), installed("0.59.0", 60_000, [["0.59.0", "failed"]]), installed("0.61.0"), installed("0.62.0")]) {
    t.equal(pathMatters(v61, releases), false);
    t.equal(upgradePath(input(facts, v61, releases)).serve.version, "0.61.0");
  }
});
