import { asJson, type Db } from "../db/client.js";
import { cursorId, toPage, type Page, type PageRequest } from "./paging.js";

export interface AuditEntry {
  id: number;
  actor: string;
  action: string;
  targetType: string;
  target: string;
  before: unknown;
  after: unknown;
  requestId: string | null;
  createdAt: Date;
}

export interface NewAuditEntry {
  actor: string;
  action: string;
  targetType: string;
  target: string;
  before?: unknown;
  after?: unknown;
  requestId?: string | null | undefined;
}

export interface AuditListFilter {
  targetType?: string | undefined;
  target?: string | undefined;
  action?: string | undefined;
  actor?: string | undefined;
  since?: Date | undefined;
  until?: Date | undefined;
}

/** JSON-safe copy (Dates become ISO strings) for the audit's Json columns. */
function json(v: unknown) {
  return v === undefined || v === null ? undefined : asJson(JSON.parse(JSON.stringify(v)));
}

export function auditRepo(db: Pick<Db, "auditEntry">) {
  return {
    async add(e: NewAuditEntry): Promise<void> {
      await db.auditEntry.create({
        data: { actor: e.actor, action: e.action, targetType: e.targetType, target: e.target, before: json(e.before), after: json(e.after), requestId: e.requestId ?? null },
      });
    },
    /**
     * Newest first, optionally narrowed to one target, action or actor, and
     * to a time range (since inclusive, until exclusive). Only targetType and
     * target have an index (prisma/models.prisma); the other filters ride the
     * id order, reading back from the cursor until a page is full: fine for an
     * audit log of this size, an (actor, id) index is the step after.
     */
    async list(page: PageRequest, filter: AuditListFilter = {}): Promise<Page<AuditEntry>> {
      const before = cursorId(page.cursor);
      const where: Record<string, unknown> = {};
      if (filter.targetType) where.targetType = filter.targetType;
      if (filter.target) where.target = filter.target;
      if (filter.action) where.action = filter.action;
      if (filter.actor) where.actor = filter.actor;
      if (filter.since || filter.until) where.createdAt = { ...(filter.since ? { gte: filter.since } : {}), ...(filter.until ? { lt: filter.until } : {}) };
      if (before !== undefined) where.id = { lt: before };
      const rows = await db.auditEntry.findMany({ where, orderBy: { id: "desc" }, take: page.limit + 1 });
      return toPage(rows, page.limit, (e) => e.id);
    },
  };
}
export type AuditRepo = ReturnType<typeof auditRepo>;
