// What declarative apply does with a channel file's `release` (and its
// `rollout`, docs/api.md §5) given the channel's rollouts, as pure functions
// over facts already read in apply's transaction
// (src/services/apply-channels.ts). Table-tested in
// test/services/declared-release-rules.test.ts.
//
// In order (docs/decisions.md):
// 1. an active rollout of the declared release: nothing; a note when the
//    file declares another rollout than the running one (apply never
//    changes a running rollout);
// 2. an active rollout of another release: a promotion, which the catalog
//    refuses with 409 ROLLOUT_IN_PROGRESS like any move;
// 3. the channel is at the declared release: nothing (however it got there),
//    which the promotion rules answer (they still refuse a yanked release);
// 4. the channel's last rollout of the declared release was aborted: refused
//    (409 DECLARATION_CONFLICT), with or without `rollout` in the file: a
//    person stopped that release on that channel, and a file that still
//    names it must not undo their decision;
// 5. else a promotion: at once, or a rollout when the file declares one.
import type { Release, RolloutInput } from "../domain/schemas.js";
import type { Rollout } from "../repositories/rollouts-repo.js";

export interface DeclaredReleaseFacts {
  channel: string;
  file: string;
  /** The channel's release now (its id), or null. */
  current: string | null;
  target: Pick<Release, "id" | "version">;
  /** The file's `rollout`, if it declares one. */
  declared: RolloutInput | undefined;
  /** The channel's active rollout (progressing, paused, halted), if any. */
  active: Rollout | null;
  /** The channel's newest rollout of the declared release, whatever its state. */
  lastOfTarget: Rollout | null;
}

export type DeclaredReleaseDecision =
  /** Nothing to do; `note`: what the plan should say about it. */
  | { kind: "nothing"; note?: string }
  /**
   * Ask the promotion rules (src/services/promotion-rules.ts): a move, or
   * a rollout when the file declares one; a no-op when the channel is at
   * the release already; or their refusal.
   */
  | { kind: "promote" }
  | { kind: "refuse"; code: "DECLARATION_CONFLICT"; message: string };

/** "5 %, 25 %, 100 %" */
export function percentsText(steps: readonly { percent: number }[]): string {
  return steps.map((s) => `${s.percent} %`).join(", ");
}

function stepsText(steps: readonly { percent: number; bake?: string | undefined }[]): string {
  return steps.map((s) => `${s.percent} %${s.bake && s.bake !== "0s" ? ` for ${s.bake}` : ""}`).join(", ");
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}

/**
 * Where a declared rollout differs from a stored one: its steps (percent
 * and bake), include and exclude (as sets: order and repeats mean nothing
 * to the cohort), and salt when the file declares one (else the stored
 * salt is the rollout's id).
 */
export function rolloutDifferences(stored: Pick<Rollout, "steps" | "include" | "exclude" | "salt"> & Partial<Pick<Rollout, "gates" | "onFailure">>, declared: RolloutInput): string[] {
  const out: string[] = [];
  const steps = declared.steps.map((s) => ({ percent: s.percent, bake: s.bake ?? "0s" }));
  if (steps.length !== stored.steps.length || steps.some((s, i) => s.percent !== stored.steps[i]!.percent || s.bake !== stored.steps[i]!.bake)) {
    out.push(`steps (running ${stepsText(stored.steps)}; declared ${stepsText(steps)})`);
  }
  if (!sameSet(stored.include, declared.include)) out.push(`include (running [${stored.include.join(", ")}]; declared [${declared.include.join(", ")}])`);
  if (!sameSet(stored.exclude, declared.exclude)) out.push(`exclude (running [${stored.exclude.join(", ")}]; declared [${declared.exclude.join(", ")}])`);
  if (declared.salt !== undefined && declared.salt !== stored.salt) out.push(`salt (running ${stored.salt}; declared ${declared.salt})`);
  // Gates (docs/api.md §9) as written, the rollout's and each step's.
  // Keys sorted: PostgreSQL's JSONB does not keep the order they were written in.
  const gatesText = (g: unknown) => JSON.stringify(g ?? [], (_k, v: unknown) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b))) : v));
  if (gatesText(stored.gates) !== gatesText(declared.gates) || declared.steps.some((s, i) => gatesText(stored.steps[i]?.gates) !== gatesText(s.gates))) out.push("gates");
  if (stored.onFailure !== undefined && stored.onFailure !== declared.onFailure) out.push(`onFailure (running ${stored.onFailure}; declared ${declared.onFailure})`);
  return out;
}

export function decideDeclaredRelease(f: DeclaredReleaseFacts): DeclaredReleaseDecision {
  const a = f.active;
  if (a && a.releaseId === f.target.id) {
    const where = `rollout ${a.id} of ${f.target.version} on channel ${f.channel} is ${a.state} at step ${a.step + 1} of ${a.steps.length} (${a.steps[a.step]!.percent} %)`;
    if (!f.declared) return { kind: "nothing", note: `${where}; ${f.file} declares no rollout; apply leaves the rollout as it is` };
    const diff = rolloutDifferences(a, f.declared);
    if (diff.length === 0) return { kind: "nothing" };
    return { kind: "nothing", note: `${where}; ${f.file} declares another ${diff.join(", ")}; apply does not change a running rollout (pause, advance or abort it: POST /channels/${f.channel}/rollout/…)` };
  }
  if (a) return { kind: "promote" };
  if (f.current === f.target.id) return { kind: "promote" };
  const last = f.lastOfTarget;
  if (last && last.state === "aborted") {
    const when = last.endedAt ? last.endedAt.toISOString() : "at an unknown time";
    return {
      kind: "refuse",
      code: "DECLARATION_CONFLICT",
      message:
        `${f.file}: release: the last rollout of ${f.target.version} on channel ${f.channel} (${last.id}) was aborted at ${when} by ${last.endedBy ?? "unknown"}` +
        `${last.endReason ? ` (reason: ${last.endReason})` : ""}; apply does not start it again. ` +
        `Declare another release in ${f.file}, or promote ${f.target.version} by hand (POST /channels/${f.channel}/promote, with or without a rollout): apply then finds it in progress or in force`,
    };
  }
  return { kind: "promote" };
}
