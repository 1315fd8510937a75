// The audit log as the admin API answers it.
import { z } from "zod";
import { line } from "../../../domain/schemas.js";
import type { AuditEntry } from "../../../services/audit-service.js";
import { idPageQuery, page } from "./paging.js";

export const auditDto = z.object({
  id: z.number().int(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  target: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
  createdAt: z.string(),
});
export type AuditDto = z.infer<typeof auditDto>;

export const auditPageDto = page(auditDto);
export type AuditPageDto = z.infer<typeof auditPageDto>;

const isoDateTime = z.iso.datetime({ offset: true });
/** An ISO 8601 date-time with a time zone (as src/routes/admin/freeze-routes.ts takes one). */
const dateTime = line(64).refine((s) => isoDateTime.safeParse(s).success, { message: "must be an ISO 8601 date-time with a time zone, e.g. 2027-01-31T18:00:00Z" });

export const auditQuery = idPageQuery
  .extend({
    targetType: line(64, 0).optional(),
    target: line(256, 0).optional(),
    action: line(64, 0).optional(),
    actor: line(256, 0).optional().describe("only this actor's entries (exact)"),
    since: dateTime.optional().describe("only entries made at or after this time"),
    until: dateTime.optional().describe("only entries made before this time"),
  })
  .superRefine((q, ctx) => {
    if (q.since !== undefined && q.until !== undefined && Date.parse(q.until) < Date.parse(q.since)) ctx.addIssue({ code: "custom", path: ["until"], message: "is before since" });
  });

export function toAuditDto(e: AuditEntry): AuditDto {
  return { ...e, createdAt: e.createdAt.toISOString() };
}
