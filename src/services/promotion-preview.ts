// What a dry-run promotion answers (docs/api.md §7): the difference between
// what a channel serves now and what it would serve, as RFC 6902
// operations (the `rfc6902` package computes them), and the licensees it
// would reach. Pure functions; test/services/promotion-preview.test.ts.
import { Pointer, applyPatch, createPatch } from "rfc6902";
import type { Channel, Release } from "../domain/schemas.js";
import type { FleetCount } from "../repositories/fleet-repo.js";
import { canonicalJson, specValues } from "./spec.js";
import { NO_RELEASE } from "./fleet-service.js";

/** One RFC 6902 operation. */
export interface PatchOp {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

/** The same data with object keys sorted: the operations' order depends on content only, not on the provider (PostgreSQL's jsonb reorders keys). */
function sorted(v: unknown): unknown {
  return JSON.parse(canonicalJson(v) ?? "null");
}

/**
 * The RFC 6902 patch that turns `from` into `to`. Each `replace` and
 * `remove` is preceded by a `test` of the value it changes (as it stands at
 * that point of the patch), so the patch names what it replaces and, applied
 * to anything but `from`, fails instead of producing something else
 * (docs/decisions.md, decision 55).
 */
export function jsonDiff(from: unknown, to: unknown): PatchOp[] {
  const before = sorted(from);
  const state = structuredClone(before);
  const out: PatchOp[] = [];
  for (const op of createPatch(before, sorted(to)) as PatchOp[]) {
    if (op.op === "replace" || op.op === "remove") out.push({ op: "test", path: op.path, value: structuredClone(Pointer.fromJSON(op.path).get(state)) });
    out.push(op);
    const [err] = applyPatch(state, [op as Parameters<typeof applyPatch>[1][number]]);
    if (err) throw err;
  }
  return out;
}

/** The values a channel serves with `release` (no licensee's overrides): the spec builder's merge, nulls removed. */
export function servedValues(channel: Pick<Channel, "defaultValues">, release: Release | null): Record<string, unknown> {
  return release ? specValues(channel, release) : {};
}

export interface Affected {
  licensees: number;
  /** Licensees by the version each was last served ("none": it was served none). */
  byRelease: Record<string, number>;
}

/** The fleet counts of one channel as a dry run reports them. */
export function affectedOf(counts: FleetCount[]): Affected {
  const byRelease: Record<string, number> = {};
  let licensees = 0;
  for (const c of counts) {
    const label = c.releaseVersion ?? NO_RELEASE;
    byRelease[label] = (byRelease[label] ?? 0) + c.licensees;
    licensees += c.licensees;
  }
  return { licensees, byRelease };
}
