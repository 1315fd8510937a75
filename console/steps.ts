// A promotion's rollout steps as typed on the channel page (DOM-free:
// test/console/steps.test.ts checks it against the CLI's parser).
export interface Step {
  percent: number;
  bake?: string;
}

const MAX_STEPS = 20;
const BAKE = /^(\d{1,9})([smhd])$/;
const BAKE_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const MAX_BAKE_SECONDS = 365 * 86400;

/**
 * `10:1h,50:1h,100`: the CLI's `--steps` grammar and rule, the same as
 * parseSteps in src/cli/rollout.ts (which the console build cannot import:
 * it pulls in the CLI's Node modules). Keep the two in step. A string is
 * the problem, naming the step.
 */
export function parseSteps(text: string): Step[] | string {
  const parts = text.split(",").map((s) => s.trim());
  const bad = (i: number, why: string) => `steps: step ${i + 1} ${JSON.stringify(parts[i])}: ${why}`;
  if (text.trim() === "") return "steps: give at least one step, e.g. 5:2h,25:12h,100";
  if (parts.length > MAX_STEPS) return `steps: at most ${MAX_STEPS} steps (got ${parts.length})`;
  const steps: Step[] = [];
  for (const [i, part] of parts.entries()) {
    if (part === "") return bad(i, "empty (a comma too many?)");
    const [percent, bake, ...more] = part.split(":").map((s) => s.trim());
    if (more.length > 0) return bad(i, "use PERCENT or PERCENT:BAKE, e.g. 25:12h");
    if (!/^\d{1,3}$/.test(percent!) || Number(percent) > 100) return bad(i, "the percent must be a whole number from 0 to 100");
    if (bake === undefined) {
      steps.push({ percent: Number(percent) });
      continue;
    }
    const m = BAKE.exec(bake);
    if (!m) return bad(i, "the bake must be a number and a unit s, m, h or d, e.g. 30m, 2h, 3d");
    if (Number(m[1]) * BAKE_SECONDS[m[2] as keyof typeof BAKE_SECONDS] > MAX_BAKE_SECONDS) return bad(i, "the bake is at most 365d");
    steps.push({ percent: Number(percent), bake });
  }
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]!.percent <= steps[i - 1]!.percent) return bad(i, `the percents must increase (${steps[i]!.percent} % does not follow ${steps[i - 1]!.percent} %)`);
  }
  if (steps[steps.length - 1]!.percent !== 100) return bad(steps.length - 1, "the last step must be 100 (the rollout ends with every licensee on the release)");
  return steps;
}
