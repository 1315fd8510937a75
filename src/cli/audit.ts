// `chartroom audit`: the audit log of admin changes. The table shows what
// changed (before → after) and why; --target takes what the TARGET column
// prints (release/0.61.0) as well as a bare name; an --action that matches
// nothing and is no action the server records is answered with the actions
// it does record.
import { UsageError } from "./args.js";
import type { Client } from "./client.js";
import { clean, dash, table, when } from "./format.js";
import type { Result } from "./remote.js";
import { didYouMean } from "./suggest.js";
import type { AuditDto, AuditPageDto } from "../routes/admin/dto/audit.js";

/** The actions the server writes to the audit (src/services: catalog, rollout, license, freeze, webhook, apply). */
export const AUDIT_ACTIONS = [
  "channel.create",
  "channel.update",
  "channel.promote",
  "channel.rollback",
  "release.create",
  "release.yank",
  "release.required",
  "bundle.export",
  "rollout.start",
  "rollout.step",
  "rollout.pause",
  "rollout.resume",
  "rollout.abort",
  "rollout.halt",
  "rollout.complete",
  "freeze.on",
  "freeze.off",
  "license.issue",
  "license.revoke",
  "license.values.set",
  "license.values.unset",
  "webhook.create",
  "webhook.delete",
] as const;

/** The target types of audit entries: the part before "/" in the TARGET column. */
export const AUDIT_TARGET_TYPES = ["channel", "release", "rollout", "license", "licensee", "freeze", "webhook", "bundle"] as const;

/** --target as the table prints it (release/0.61.0) or bare (0.61.0); --target-type, if given too, must agree. */
export function targetFilter(target: string | undefined, targetType: string | undefined): { target?: string | undefined; targetType?: string | undefined } {
  if (target === undefined) return { targetType };
  const slash = target.indexOf("/");
  const type = slash > 0 ? target.slice(0, slash) : undefined;
  if (type === undefined || !(AUDIT_TARGET_TYPES as readonly string[]).includes(type)) return { target, targetType };
  if (targetType !== undefined && targetType !== type) throw new UsageError(`--target ${target} names a ${type}, but --target-type is ${targetType}`);
  return { target: target.slice(slash + 1), targetType: type };
}

function short(v: unknown): string {
  if (v === undefined || v === null) return "none";
  if (typeof v === "string") return v;
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** before → after, field by field ("release: 0.60.0 → 0.61.0"); the reason is a column of its own. */
export function changeText(before: unknown, after: unknown): string {
  const b = isRecord(before) ? before : undefined;
  const a = isRecord(after) ? after : undefined;
  if (!b && !a) return before === after ? "-" : `${short(before)} → ${short(after)}`;
  if (!b) return "created";
  if (!a) return "removed";
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => k !== "reason");
  const changed = keys.filter((k) => JSON.stringify(b[k]) !== JSON.stringify(a[k]));
  if (changed.length === 0) return "-";
  const text = changed.map((k) => `${k}: ${short(b[k])} → ${short(a[k])}`).join(", ");
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function reasonOf(e: AuditDto): string {
  for (const side of [e.after, e.before]) {
    if (isRecord(side) && typeof side.reason === "string" && side.reason !== "") return side.reason;
  }
  return "-";
}

export async function audit(
  c: Client,
  q: { limit?: number | undefined; cursor?: string | undefined; action?: string | undefined; target?: string | undefined; targetType?: string | undefined },
): Promise<Result> {
  const query = { limit: q.limit, cursor: q.cursor, action: q.action, ...targetFilter(q.target, q.targetType) };
  const data = (await c.get("/audit", query)) as AuditPageDto;
  if (data.items.length === 0 && q.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(q.action)) {
    throw new UsageError(`no audit entries with action ${JSON.stringify(q.action)}, which is not an action the audit records${didYouMean(q.action, AUDIT_ACTIONS)}; the actions are ${AUDIT_ACTIONS.join(", ")}`);
  }
  const text =
    data.items.length === 0
      ? "no audit entries\n"
      : table(
          ["TIME", "ACTOR", "ACTION", "TARGET", "CHANGE", "REASON", "REQUEST"],
          data.items.map((a) => [when(a.createdAt), a.actor, a.action, `${a.targetType}/${a.target}`, changeText(a.before, a.after), clean(reasonOf(a)), dash(a.requestId)]),
        );
  const more = data.nextCursor ? `more: chartroom audit${q.limit ? ` --limit ${q.limit}` : ""} --cursor ${data.nextCursor}\n` : undefined;
  return { json: data, text, ...(more ? { note: more } : {}) };
}
