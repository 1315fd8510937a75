// The pure parts of the rollout commands (src/cli/rollout.ts): the --steps
// grammar as a table, relative times, and the text each command prints for
// a fixed rollout view; the usage errors through main() with no server.
import t from "tap";
import { UsageError } from "../../src/cli/args.js";
import { controlText, listText, parseSteps, relative, startedText, stateLine, statusText, summaryCell } from "../../src/cli/rollout.js";
import type { RolloutDto } from "../../src/routes/admin/dto/rollouts.js";
import { run } from "./fixtures/cli-harness.js";

t.test("--steps: the good ones", async (t) => {
  const cases: [string, unknown][] = [
    ["100", [{ percent: 100 }]],
    ["5:2h,25:12h,100", [{ percent: 5, bake: "2h" }, { percent: 25, bake: "12h" }, { percent: 100 }]],
    [" 0:30s , 50:15m, 100:3d ", [{ percent: 0, bake: "30s" }, { percent: 50, bake: "15m" }, { percent: 100, bake: "3d" }]],
    ["1:365d,100", [{ percent: 1, bake: "365d" }, { percent: 100 }]],
    ["10:8760h,100", [{ percent: 10, bake: "8760h" }, { percent: 100 }]],
    [Array.from({ length: 20 }, (_, i) => String(i * 5 + 5)).join(","), Array.from({ length: 20 }, (_, i) => ({ percent: i * 5 + 5 }))],
  ];
  for (const [text, steps] of cases) t.same(parseSteps(text), steps, text);
});

t.test("--steps: the bad ones, each saying what is wrong", async (t) => {
  const cases: [string, RegExp][] = [
    ["", /^--steps: give at least one step, e\.g\. --steps 5:2h,25:12h,100$/],
    ["5.5:2h,100", /^--steps: step 1 "5\.5:2h": the percent must be a whole number from 0 to 100$/],
    ["five,100", /^--steps: step 1 "five": the percent must be a whole number/],
    ["-5,100", /step 1 "-5": the percent must be a whole number/],
    ["5,101", /^--steps: step 2 "101": the percent must be a whole number from 0 to 100$/],
    ["25,5,100", /^--steps: step 2 "5": the percents must increase \(5 % does not follow 25 %\)$/],
    ["5,5,100", /^--steps: step 2 "5": the percents must increase/],
    ["5:2h,50", /^--steps: step 2 "50": the last step must be 100 \(the rollout ends with every licensee on the release\)$/],
    ["5:2x,100", /^--steps: step 1 "5:2x": the bake must be a number and a unit s, m, h or d, e\.g\. 30m, 2h, 3d$/],
    ["5:h,100", /step 1 "5:h": the bake must be/],
    ["5:,100", /step 1 "5:": the bake must be/],
    ["5:1.5h,100", /step 1 "5:1\.5h": the bake must be/],
    ["5:366d,100", /^--steps: step 1 "5:366d": the bake is at most 365d$/],
    ["5:8761h,100", /step 1 "5:8761h": the bake is at most 365d/],
    ["5:2h:3,100", /^--steps: step 1 "5:2h:3": use PERCENT or PERCENT:BAKE, e\.g\. 25:12h$/],
    ["5,,100", /^--steps: step 2 "": empty \(a comma too many\?\)$/],
    ["5,100,", /step 3 "": empty/],
    [Array.from({ length: 21 }, (_, i) => String(i * 4 + 20)).join(","), /^--steps: at most 20 steps \(got 21\)$/],
  ];
  for (const [text, msg] of cases) {
    t.throws(() => parseSteps(text), UsageError, `${JSON.stringify(text)} is a usage error`);
    try {
      parseSteps(text);
    } catch (err) {
      t.match((err as Error).message, msg, JSON.stringify(text));
    }
  }
});

t.test("relative times", async (t) => {
  const now = Date.parse("2026-12-01T10:00:00Z");
  const cases: [string, string][] = [
    ["2026-12-01T11:59:00Z", "in 1h 59m"],
    ["2026-12-01T10:00:45Z", "in 45s"],
    ["2026-12-01T10:12:30Z", "in 12m"],
    ["2026-12-03T13:00:00Z", "in 2d 3h"],
    ["2026-12-01T10:00:00Z", "due now"],
    ["2026-12-01T09:00:00Z", "due now"],
  ];
  for (const [iso, shown] of cases) t.equal(relative(iso, now), shown, iso);
});

const NOW = Date.parse("2026-12-01T10:01:00Z");

/** A rollout on stable, 0.60.0 → 0.61.0, in its first step of three. */
function view(over: Partial<RolloutDto> = {}): RolloutDto {
  return {
    id: "0b6e3c2a-4f1d-4c3e-9a57-2f1e8d6c5b4a",
    channel: "stable",
    release: { id: "r61", version: "0.61.0", yanked: false },
    previous: { id: "r60", version: "0.60.0", yanked: false },
    state: "progressing",
    step: 1,
    percent: 5,
    steps: [{ percent: 5, bake: "2h" }, { percent: 25, bake: "12h" }, { percent: 100, bake: "0s" }],
    include: ["acme-canary"],
    exclude: [],
    salt: "s",
    startedAt: "2026-12-01T10:00:00.000Z",
    startedBy: "eng@example.com",
    stepStartedAt: "2026-12-01T10:00:00.000Z",
    nextStepAt: "2026-12-01T12:00:00.000Z",
    endedAt: null,
    endedBy: null,
    endReason: null,
    reason: "GA",
    counts: { licensees: 40, inCohort: 3, servedTarget: 2, healthy: 2, failed: 1 },
    onFailure: "halt",
    gates: [],
    ...over,
  };
}

t.test("the answer to promote --steps", async (t) => {
  t.equal(
    startedText(view(), NOW),
    `rollout started: stable 0.60.0 → 0.61.0, step 1/3 at 5 %
id:       0b6e3c2a-4f1d-4c3e-9a57-2f1e8d6c5b4a
target:   0.61.0
previous: 0.60.0
state:    progressing
steps:
  STEP  PERCENT  BAKE  STATE
> 1     5 %      2h    current
  2     25 %     12h   pending
  3     100 %    0s    pending
next step: 2026-12-01T12:00:00Z (in 1h 59m)
watch:     chartroom rollout status stable
`,
  );
  t.match(startedText(view({ previous: null }), NOW), /^rollout started: stable none → 0\.61\.0/, "a channel with no release before");
});

t.test("rollout status", async (t) => {
  t.equal(
    statusText(view(), NOW),
    `rollout of 0.61.0 on stable: progressing, step 1/3 at 5 %; next step at 2026-12-01T12:00:00Z (in 1h 59m)
id:       0b6e3c2a-4f1d-4c3e-9a57-2f1e8d6c5b4a
state:    progressing, step 1/3 at 5 %
target:   0.61.0
previous: 0.60.0
steps:
  STEP  PERCENT  BAKE  STATE
> 1     5 %      2h    current
  2     25 %     12h   pending
  3     100 %    0s    pending
include:       acme-canary
exclude:       none
started:       2026-12-01T10:00:00Z by eng@example.com
reason:        GA
step began:    2026-12-01T10:00:00Z
next step:     2026-12-01T12:00:00Z (in 1h 59m)
licensees:     40
in cohort:     3
served target: 2
healthy:       2
failed:        1
`,
  );

  // Gates (docs/api.md §9): one line each, with the last evaluation.
  const gated = statusText(
    view({
      state: "halted",
      nextStepAt: null,
      gates: [
        { kind: "reports", state: "fail", detail: "1 healthy, 0 degraded, 1 failed (failed ratio 0.5, at most 0.2)", evaluatedAt: "2026-12-01T10:00:30.000Z", inconclusive: 0, scope: "rollout", spec: { kind: "reports", minHealthy: 2, maxFailedRatio: 0.2 } },
        { kind: "webhook", state: "inconclusive", detail: "answered 500 (1 of 3 inconclusive in a row)", evaluatedAt: "2026-12-01T10:00:30.000Z", inconclusive: 1, scope: "step", spec: { kind: "webhook", url: "https://g.example.com" } },
      ],
    }),
    NOW,
  );
  t.match(gated, /^rollout of 0\.61\.0 on stable: halted at step 1\/3 at 5 % \(a gate failed\)\n/);
  t.match(gated, /^gate 1: +reports, fail: 1 healthy, 0 degraded, 1 failed \(failed ratio 0\.5, at most 0\.2\)$/m);
  t.match(gated, /^gate 2: +webhook, inconclusive: answered 500 \(1 of 3 inconclusive in a row\)$/m);

  const paused = statusText(view({ state: "paused", step: 2, percent: 25, nextStepAt: null }), NOW);
  t.match(paused, /^rollout of 0\.61\.0 on stable: paused at step 2\/3 at 25 %\n/);
  t.match(paused, /^ {2}1 +5 % +2h +done$/m, "a step before the current one is done");
  t.match(paused, /^> 2 +25 % +12h +current \(paused\)$/m, "the current step, marked, paused");
  t.match(paused, /^next step: +none while paused$/m);

  const done = statusText(view({ state: "completed", step: 3, percent: 100, nextStepAt: null, endedAt: "2026-12-02T00:00:00.000Z", endedBy: "eng@example.com", endReason: "completed" }), NOW);
  t.match(done, /^rollout of 0\.61\.0 on stable: completed; stable is on 0\.61\.0\n/);
  t.equal(done.match(/ done$/gm)?.length, 3, "every step done");
  t.notMatch(done, /^>/m, "no step marked current");
  t.notMatch(done, /next step/);
  t.match(done, /^ended: +2026-12-02T00:00:00Z by eng@example\.com: completed$/m);

  const aborted = statusText(view({ state: "aborted", step: 2, percent: 0, nextStepAt: null, endedAt: "2026-12-01T11:00:00Z", endedBy: "sre@example.com", endReason: "error rate", counts: { licensees: 40, inCohort: 0, servedTarget: 0, healthy: 4, failed: 0 } }), NOW);
  t.match(aborted, /^rollout of 0\.61\.0 on stable: aborted at step 2\/3; every licensee is back on 0\.60\.0\n/);
  t.match(aborted, /^ {2}2 +25 % +12h +aborted$/m);
  t.match(aborted, /^ended: +2026-12-01T11:00:00Z by sre@example\.com: error rate$/m);
  t.match(aborted, /^healthy: +4$/m, "a health count shown when there is one");
  t.match(aborted, /^failed: +0$/m, "zero is not a dash");

  t.match(statusText(view({ include: [], exclude: ["bigbank", "initech"] }), NOW), /^include: +none\nexclude: +bigbank, initech$/m);
});

t.test("the controls' answers, one or two lines", async (t) => {
  const changed = (v: RolloutDto) => ({ changed: true, message: "unused when changed", rollout: v });
  t.equal(controlText(changed(view({ state: "paused", nextStepAt: null })), NOW), "rollout of 0.61.0 on stable: paused at step 1/3 at 5 %\nresume with: chartroom rollout resume stable --reason TEXT\n");
  t.equal(
    controlText(changed(view({ step: 2, percent: 25, nextStepAt: "2026-12-01T22:01:00Z" })), NOW),
    "rollout of 0.61.0 on stable: progressing, step 2/3 at 25 %; next step at 2026-12-01T22:01:00Z (in 12h 0m)\nwatch with: chartroom rollout status stable\n",
  );
  t.equal(controlText(changed(view({ state: "completed", step: 3, percent: 100, nextStepAt: null })), NOW), "rollout of 0.61.0 on stable: completed; stable is on 0.61.0\n");
  t.equal(controlText(changed(view({ state: "aborted", percent: 0, nextStepAt: null })), NOW), "rollout of 0.61.0 on stable: aborted at step 1/3; every licensee is back on 0.60.0\n");
  t.equal(
    controlText({ changed: false, message: "the rollout of channel stable is already paused; nothing changed", rollout: view({ state: "paused", nextStepAt: null }) }, NOW),
    "the rollout of channel stable is already paused; nothing changed\nrollout of 0.61.0 on stable: paused at step 1/3 at 5 %\n",
    "nothing changed: the server's word, then the state",
  );
  t.equal(stateLine(view({ state: "halted", nextStepAt: null }), NOW), "rollout of 0.61.0 on stable: halted at step 1/3 at 5 % (a gate failed)");
  t.equal(stateLine(view({ state: "aborted", release: { id: "r61", version: "0.61.0", yanked: true } }), NOW), "rollout of 0.61.0 (yanked) on stable: aborted at step 1/3; every licensee is back on 0.60.0", "a yanked target says so");
});

t.test("a channel view's rollout", async (t) => {
  t.equal(summaryCell(null), "none");
  t.equal(summaryCell({ id: "x", release: { id: "r", version: "0.61.0" }, state: "paused", step: 2, steps: 3, percent: 25, nextStepAt: null }), "0.61.0 at 25 % (step 2/3, paused)");
});

t.test("rollout list", async (t) => {
  t.equal(listText({ items: [], nextCursor: null }), "no rollouts\n");
  const older = view({ id: "11111111-1111-4111-8111-111111111111", state: "aborted", release: { id: "r", version: "0.60.0", yanked: false }, previous: null, endedAt: "2026-11-30T10:00:00.000Z", startedAt: "2026-11-29T10:00:00.000Z" });
  const text = listText({ items: [{ ...view(), counts: undefined }, older], nextCursor: "abc" });
  t.equal(
    text,
    `STARTED               ID                                    TARGET  PREVIOUS  STATE        STEP       BY               ENDED
2026-12-01T10:00:00Z  0b6e3c2a-4f1d-4c3e-9a57-2f1e8d6c5b4a  0.61.0  0.60.0    progressing  1/3 (5 %)  eng@example.com  -
2026-11-29T10:00:00Z  11111111-1111-4111-8111-111111111111  0.60.0  none      aborted      1/3 (5 %)  eng@example.com  2026-11-30T10:00:00Z
`,
  );
});

t.test("usage errors exit 2 before any request", async (t) => {
  // CHARTROOM_URL points nowhere: a request would exit 3, not 2.
  const env = { CHARTROOM_URL: "http://127.0.0.1:9", CHARTROOM_TOKEN: "unused-token-0123456789" };
  const bad: [string[], RegExp][] = [
    [["promote", "0.61.0", "--to", "stable", "--steps", "5:2h,50"], /^error: --steps: step 2 "50": the last step must be 100/],
    [["promote", "0.61.0", "--to", "stable", "--steps", "x"], /^error: --steps: step 1 "x": the percent must be a whole number/],
    [["promote", "0.61.0", "--to", "stable", "--include", "acme"], /^error: --include need --steps \(a staged rollout\), e\.g\. --steps 5:2h,25:12h,100\n/],
    [["promote", "0.61.0", "--to", "stable", "--exclude", "a", "--salt", "s"], /^error: --exclude, --salt need --steps/],
    [["rollout", "status"], /^error: missing CHANNEL\n/],
    [["rollout", "pause", "stable"], /^error: --reason TEXT is required\n/],
    [["rollout", "resume", "stable"], /^error: --reason TEXT is required\n/],
    [["rollout", "abort", "stable"], /^error: --reason TEXT is required\n/],
    [["rollout", "advance", "stable"], /^error: --reason TEXT is required\n/],
    [["rollout", "pause", "stable", "--reason", "x", "--force"], /Unknown option '--force'/],
    [["rollout", "list", "stable", "--limit", "0"], /--limit must be a whole number/],
  ];
  for (const [argv, msg] of bad) {
    const r = await run(argv, env);
    t.equal(r.code, 2, `${argv.join(" ")} is a usage error`);
    t.match(r.stderr, msg, argv.join(" "));
    t.equal(r.stdout, "", `${argv.join(" ")} prints nothing on stdout`);
  }
  const unknown = await run(["rollout", "frob", "stable"], env);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "rollout frob"; try "chartroom rollout status" or "chartroom rollout pause"/);

  const help = await run(["help"], {});
  for (const cmd of ["rollout status CHANNEL", "rollout pause CHANNEL --reason TEXT", "rollout resume CHANNEL --reason TEXT", "rollout advance CHANNEL --reason TEXT [--force]", "rollout abort CHANNEL --reason TEXT", "rollout list CHANNEL [--limit N] [--cursor C]"]) {
    t.match(help.stdout, `  chartroom ${cmd}\n`, `usage lists ${cmd}`);
  }
  t.match(help.stdout, /--steps 5:2h,25:12h,100 \[--include SUB,…\] \[--exclude SUB,…\] \[--salt S\]/);
});
