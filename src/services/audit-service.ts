// The audit log as the admin API reads it: every admin mutation, newest
// first. Entries are written by the services that make the changes, in the
// changing transaction; this only reads them.
import type { AuditEntry } from "../repositories/audit-repo.js";
import type { Page, PageRequest } from "../repositories/paging.js";
import type { Store } from "../repositories/store.js";

export type { AuditEntry };

export interface AuditFilter {
  targetType?: string | undefined;
  target?: string | undefined;
  action?: string | undefined;
  /** Exactly this actor. */
  actor?: string | undefined;
  /** ISO date-times: made at or after `since`, before `until`. */
  since?: string | undefined;
  until?: string | undefined;
}

export function auditService(store: Pick<Store, "audit">) {
  return {
    async list(page: PageRequest, filter: AuditFilter = {}): Promise<Page<AuditEntry>> {
      const { since, until, ...rest } = filter;
      return store.audit.list(page, { ...rest, since: since === undefined ? undefined : new Date(since), until: until === undefined ? undefined : new Date(until) });
    },
  };
}
export type AuditService = ReturnType<typeof auditService>;
