// An upgrade path (docs/api.md §8) as the admin API answers it: in GET
// /resolve and in each fleet entry (src/services/upgrade-path.ts decides it).
import { z } from "zod";
import type { PathDecision } from "../../../services/upgrade-path.js";

export const PATH_STATES = ["fresh", "current", "direct", "stepping-stone", "no-upgrade-path"] as const;

export const pathDto = z
  .object({
    state: z.enum(PATH_STATES).describe("fresh: never seen, gets its target; current: on or above it; direct: installs it directly; stepping-stone: served a release on the way; no-upgrade-path: nothing admits what it has"),
    installed: z
      .object({ id: z.string(), version: z.string(), source: z.enum(["report", "served"]).describe("its latest healthy report, or what it was last served") })
      .nullable()
      .describe("what counts as installed (null: a fresh install)"),
    serve: z.object({ id: z.string(), version: z.string() }).describe("what its poll is served now"),
    hops: z
      .array(
        z.object({
          id: z.string(),
          version: z.string(),
          why: z.enum(["required", "needed", "target"]).describe("required: a required release; needed: the target's upgradeFrom does not admit the version before; target: the end"),
          requiredReason: z.string().nullable(),
          passed: z.boolean().describe("reported healthy on, soaked, or already served beyond"),
        }),
      )
      .describe("the way from the installed version to the target, as planned now"),
    blocked: z.boolean().describe("the way ends before the target (no release on it admits the version before)"),
    text: z.string().describe('the path in one line, e.g. installed 0.58.0 → 0.59.0 (required: "schema migration") → 0.61.0'),
  })
  .describe("the licensee's upgrade path (docs/api.md §8)");
export type PathDto = z.infer<typeof pathDto>;

export function toPathDto(d: PathDecision): PathDto {
  return { state: d.state, installed: d.installed, serve: d.serve, hops: d.hops, blocked: d.blocked, text: d.text };
}
