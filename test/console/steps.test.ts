// The console's steps parser (console/steps.ts) takes and refuses what the
// CLI's --steps parser (src/cli/rollout.ts) does, with the same problem.
import t from "tap";
import { parseSteps } from "../../console/steps.js";
import { parseSteps as cliParseSteps } from "../../src/cli/rollout.js";

const CASES: [string, string | null][] = [
  ["10:1h,50:1h,100", null],
  ["100", null],
  ["0,100", null],
  [" 5:2h , 25:12h , 100 ", null],
  ["1:365d,100", null],
  ["", "give at least one step"],
  ["50:1h,10:1h,100", 'step 2 "10:1h": the percents must increase'],
  ["10,10,100", "the percents must increase"],
  ["10:1h,50", "the last step must be 100"],
  ["10:1h,,100", "empty (a comma too many?)"],
  ["10:1h:2h,100", "use PERCENT or PERCENT:BAKE"],
  ["101", "the percent must be a whole number from 0 to 100"],
  ["-5,100", "the percent must be a whole number from 0 to 100"],
  ["5.5,100", "the percent must be a whole number from 0 to 100"],
  ["10:1w,100", "the bake must be a number and a unit s, m, h or d"],
  ["10:1h30m,100", "the bake must be a number and a unit s, m, h or d"],
  ["10:366d,100", "the bake is at most 365d"],
  [Array.from({ length: 21 }, (_, i) => String(i * 5)).join(","), "at most 20 steps"],
];

for (const [text, problem] of CASES) {
  t.test(JSON.stringify(text), async (t) => {
    const got = parseSteps(text);
    let cli: unknown;
    try {
      cli = cliParseSteps(text);
    } catch (err) {
      cli = (err as Error).message;
    }
    if (problem === null) {
      t.same(got, cli, "the same steps as the CLI");
      t.not(typeof got, "string", "accepted");
    } else {
      t.type(got, "string", "refused");
      t.match(got, problem, "the problem");
      t.equal(`--${String(got)}`, String(cli).replace("e.g. --steps ", "e.g. "), "the CLI's message, without its --");
    }
  });
}
