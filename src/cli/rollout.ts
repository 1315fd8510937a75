// `chartroom promote … --steps`, `chartroom rollout status|pause|resume|
// advance|abort|list`: staged rollouts over the admin API (docs/api.md §7).
// The --steps grammar and the renderings are pure (test/cli/rollout-text.test.ts).
import { UsageError } from "./args.js";
import { seg, type Client } from "./client.js";
import { dash, fields, table, when } from "./format.js";
import type { Result } from "./remote.js";
// The answers' types are the routes' zod schemas (type-only: no zod at run time).
import type { z } from "zod";
import type { ReleaseRefDto } from "../routes/admin/dto/releases.js";
import type { RolloutDto, RolloutSummaryDto, rolloutControlDto, rolloutPageDto } from "../routes/admin/dto/rollouts.js";

/** One step as given on the command line (bake: the server's default "0s" when absent). */
export interface RolloutStep {
  percent: number;
  bake?: string;
}

type RolloutControlDto = z.infer<typeof rolloutControlDto>;
type RolloutPageDto = z.infer<typeof rolloutPageDto>;

/** The `rollout` of a promotion's body, from the command line. */
export interface RolloutOptions {
  steps: RolloutStep[];
  include: string[];
  exclude: string[];
  salt?: string | undefined;
}

const MAX_STEPS = 20;
const BAKE = /^(\d{1,9})([smhd])$/;
const BAKE_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;
const MAX_BAKE_SECONDS = 365 * 86400;

/**
 * `--steps 5:2h,25:12h,100`: comma-separated steps `PERCENT[:BAKE]`, the
 * percents whole numbers 0–100 strictly increasing with the last 100, each
 * bake a number and a unit s, m, h or d (at most 365d). The server checks
 * the same (docs/api.md §7); checking here names the step that is wrong.
 */
export function parseSteps(text: string): RolloutStep[] {
  const parts = text.split(",").map((s) => s.trim());
  const bad = (i: number, why: string) => new UsageError(`--steps: step ${i + 1} ${JSON.stringify(parts[i])}: ${why}`);
  if (text.trim() === "") throw new UsageError("--steps: give at least one step, e.g. --steps 5:2h,25:12h,100");
  if (parts.length > MAX_STEPS) throw new UsageError(`--steps: at most ${MAX_STEPS} steps (got ${parts.length})`);
  const steps = parts.map((part, i): RolloutStep => {
    if (part === "") throw bad(i, "empty (a comma too many?)");
    const [percent, bake, ...more] = part.split(":").map((s) => s.trim());
    if (more.length > 0) throw bad(i, "use PERCENT or PERCENT:BAKE, e.g. 25:12h");
    if (!/^\d{1,3}$/.test(percent!) || Number(percent) > 100) throw bad(i, "the percent must be a whole number from 0 to 100");
    if (bake === undefined) return { percent: Number(percent) };
    const m = BAKE.exec(bake);
    if (!m) throw bad(i, "the bake must be a number and a unit s, m, h or d, e.g. 30m, 2h, 3d");
    if (Number(m[1]) * BAKE_SECONDS[m[2] as keyof typeof BAKE_SECONDS] > MAX_BAKE_SECONDS) throw bad(i, "the bake is at most 365d");
    return { percent: Number(percent), bake };
  });
  for (let i = 1; i < steps.length; i++) {
    if (steps[i]!.percent <= steps[i - 1]!.percent) {
      throw bad(i, `the percents must increase (${steps[i]!.percent} % does not follow ${steps[i - 1]!.percent} %)`);
    }
  }
  const last = steps[steps.length - 1]!;
  if (last.percent !== 100) throw bad(steps.length - 1, "the last step must be 100 (the rollout ends with every licensee on the release)");
  return steps;
}

/** How long until `iso`, roughly: "in 1h 59m", "in 45s", "in 2d 3h", "due now" once passed. */
export function relative(iso: string, now: number): string {
  const s = Math.round((Date.parse(iso) - now) / 1000);
  if (Number.isNaN(s)) return "";
  if (s <= 0) return "due now";
  if (s < 60) return `in ${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `in ${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return `in ${h}h ${m % 60}m`;
  return `in ${Math.floor(h / 24)}d ${h % 24}h`;
}

function nextStep(v: RolloutDto, now: number): string {
  if (v.nextStepAt) return `${when(v.nextStepAt)} (${relative(v.nextStepAt, now)})`;
  if (v.state === "paused") return "none while paused";
  if (v.state === "halted") return "none while halted";
  return "-";
}

/** "step 2/3 at 25 %". */
function position(v: RolloutDto): string {
  return `step ${v.step}/${v.steps.length} at ${v.percent} %`;
}

function stepState(v: RolloutDto, i: number): string {
  const n = i + 1;
  if (v.state === "completed" || n < v.step) return "done";
  if (n > v.step) return "pending";
  if (v.state === "aborted") return "aborted";
  return v.state === "progressing" ? "current" : `current (${v.state})`;
}

/** The steps, the current one marked with ">". */
function stepsTable(v: RolloutDto): string {
  return table(
    ["  STEP", "PERCENT", "BAKE", "STATE"],
    v.steps.map((s, i) => {
      const state = stepState(v, i);
      return [`${state.startsWith("current") ? "> " : "  "}${i + 1}`, `${s.percent} %`, s.bake, state];
    }),
  );
}

function versionOf(r: ReleaseRefDto): string {
  if (!r) return "none";
  return r.yanked ? `${r.version} (yanked)` : r.version;
}

/** The answer to `promote … --steps` (202): what started and how to watch it. */
export function startedText(v: RolloutDto, now: number): string {
  return (
    `rollout started: ${v.channel} ${versionOf(v.previous)} → ${versionOf(v.release)}, ${position(v)}\n` +
    fields([
      ["id", v.id],
      ["target", versionOf(v.release)],
      ["previous", versionOf(v.previous)],
      ["state", v.state],
    ]) +
    "steps:\n" +
    stepsTable(v) +
    fields([
      ["next step", nextStep(v, now)],
      ["watch", `chartroom rollout status ${v.channel}`],
    ])
  );
}

function count(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : String(n);
}

function listOrNone(xs: string[]): string {
  return xs.length === 0 ? "none" : xs.join(", ");
}

function ended(v: RolloutDto): boolean {
  return v.state === "completed" || v.state === "aborted";
}

/** The headline of a rollout: where it is, in one line. */
export function stateLine(v: RolloutDto, now: number): string {
  const of = `rollout of ${versionOf(v.release)} on ${v.channel}`;
  switch (v.state) {
    case "progressing":
      return `${of}: progressing, ${position(v)}; next step ${v.nextStepAt ? `at ${when(v.nextStepAt)} (${relative(v.nextStepAt, now)})` : "when its gates pass"}`;
    case "paused":
      return `${of}: paused at ${position(v)}`;
    case "halted":
      return `${of}: halted at ${position(v)} (a gate failed)`;
    case "completed":
      return `${of}: completed; ${v.channel} is on ${versionOf(v.release)}`;
    case "aborted":
      return `${of}: aborted at step ${v.step}/${v.steps.length}; every licensee is back on ${versionOf(v.previous)}`;
  }
}

/** `chartroom rollout status CHANNEL`. */
export function statusText(v: RolloutDto, now: number): string {
  const c = v.counts;
  const rest: [string, string][] = [
    ["include", listOrNone(v.include)],
    ["exclude", listOrNone(v.exclude)],
    ["started", `${when(v.startedAt)} by ${v.startedBy}`],
    ["reason", dash(v.reason)],
  ];
  if (v.stepStartedAt) rest.push(["step began", when(v.stepStartedAt)]);
  if (!ended(v)) rest.push(["next step", nextStep(v, now)]);
  if (c) {
    rest.push(
      ["licensees", count(c.licensees)],
      ["in cohort", count(c.inCohort)],
      ["served target", count(c.servedTarget)],
      ["healthy", count(c.healthy)],
      ["failed", count(c.failed)],
    );
  }
  // The current step's gates (docs/api.md §9), each with its last evaluation.
  v.gates.forEach((g, i) => rest.push([`gate ${i + 1}`, `${g.kind}, ${g.state}: ${g.detail}`]));
  if (ended(v)) rest.push(["ended", `${when(v.endedAt)} by ${dash(v.endedBy)}: ${dash(v.endReason)}`]);
  return (
    `${stateLine(v, now)}\n` +
    fields([
      ["id", v.id],
      ["state", `${v.state}, ${position(v)}`],
      ["target", versionOf(v.release)],
      ["previous", versionOf(v.previous)],
    ]) +
    "steps:\n" +
    stepsTable(v) +
    fields(rest)
  );
}

/** The answer to a control (pause, resume, advance, abort): the new state, and what to do next (or why nothing changed). */
export function controlText(a: RolloutControlDto, now: number): string {
  const v = a.rollout;
  if (!a.changed) return `${a.message}\n${stateLine(v, now)}\n`;
  const hint =
    v.state === "paused"
      ? `resume with: chartroom rollout resume ${v.channel} --reason TEXT\n`
      : ended(v)
        ? ""
        : `watch with: chartroom rollout status ${v.channel}\n`;
  return `${stateLine(v, now)}\n${hint}`;
}

export function listText(p: RolloutPageDto): string {
  if (p.items.length === 0) return "no rollouts\n";
  return table(
    ["STARTED", "ID", "TARGET", "PREVIOUS", "STATE", "STEP", "BY", "ENDED"],
    p.items.map((v) => [
      when(v.startedAt),
      v.id,
      versionOf(v.release),
      versionOf(v.previous),
      v.state,
      `${v.step}/${v.steps.length} (${v.percent} %)`,
      v.startedBy,
      ended(v) ? when(v.endedAt) : "-",
    ]),
  );
}

/** A channel view's active rollout, in one cell: "0.61.0 at 5 % (step 1/3, progressing)"; "none" without one. */
export function summaryCell(r: RolloutSummaryDto): string {
  if (!r) return "none";
  return `${r.release.version} at ${r.percent} % (step ${r.step}/${r.steps}, ${r.state})`;
}

/** Whether a promotion's answer is a rollout (202) rather than a promotion or a dry run. */
export function isRollout(answer: unknown): answer is RolloutDto {
  const a = answer as Partial<RolloutDto> | undefined;
  return typeof a === "object" && a !== null && Array.isArray(a.steps) && typeof a.state === "string";
}

/** The `rollout` member of a promotion's body. */
export function rolloutBody(o: RolloutOptions): Record<string, unknown> {
  return { steps: o.steps, include: o.include, exclude: o.exclude, ...(o.salt !== undefined ? { salt: o.salt } : {}) };
}

export async function status(c: Client, channel: string, now = Date.now()): Promise<Result> {
  const v = (await c.get(`/channels/${seg(channel)}/rollout`)) as RolloutDto;
  return { json: v, text: statusText(v, now) };
}

export type Control = "pause" | "resume" | "advance" | "abort";

export async function control(c: Client, channel: string, what: Control, o: { reason: string; force?: boolean }, now = Date.now()): Promise<Result> {
  const a = (await c.post(`/channels/${seg(channel)}/rollout/${what}`, { reason: o.reason, ...(o.force ? { force: true } : {}) })) as RolloutControlDto;
  return { json: a, text: controlText(a, now) };
}

export async function list(c: Client, channel: string, q: { limit?: number | undefined; cursor?: string | undefined }): Promise<Result> {
  const data = (await c.get(`/channels/${seg(channel)}/rollouts`, q)) as RolloutPageDto;
  const note = data.nextCursor ? `more: chartroom rollout list ${channel}${q.limit ? ` --limit ${q.limit}` : ""} --cursor ${data.nextCursor}\n` : undefined;
  return { json: data, text: listText(data), ...(note ? { note } : {}) };
}
