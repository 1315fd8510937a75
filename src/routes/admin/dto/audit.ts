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

export const auditQuery = idPageQuery.extend({
  targetType: line(64, 0).optional(),
  target: line(256, 0).optional(),
  action: line(64, 0).optional(),
});

export function toAuditDto(e: AuditEntry): AuditDto {
  return { ...e, createdAt: e.createdAt.toISOString() };
}
