import type { Db, Provider } from "../db/client.js";

/** Kinds of cached state that a change makes stale on every replica. */
export type StateKind = "catalog" | "licenses";

/** The PostgreSQL channel replicas LISTEN on (src/db/state-listener.ts). */
export const STATE_CHANNEL = "chartroom_state";

/** The StateVersion row the write probe bumps; no cache depends on it. */
const WRITE_PROBE_KIND = "write-probe";

export function stateRepo(db: Pick<Db, "stateVersion" | "$executeRawUnsafe">, provider: Provider) {
  return {
    /**
     * Bumps the version of a kind of state, in the caller's transaction. On
     * PostgreSQL it also NOTIFYs the other replicas; the notification is
     * delivered when (and only if) the transaction commits.
     */
    async bump(kind: StateKind): Promise<number> {
      const row = await db.stateVersion.upsert({ where: { kind }, create: { kind, value: 1 }, update: { value: { increment: 1 } } });
      if (provider === "postgresql") await db.$executeRawUnsafe("SELECT pg_notify($1, $2)", STATE_CHANNEL, `${kind}:${Date.now()}`);
      return row.value;
    },
    /**
     * One real write that nothing reads: bumps the row of kind
     * "write-probe" (versions() ignores it). Tells whether the database
     * stores writes again after a full disk or a read-only file.
     */
    async probeWrite(): Promise<void> {
      await db.stateVersion.upsert({ where: { kind: WRITE_PROBE_KIND }, create: { kind: WRITE_PROBE_KIND, value: 1 }, update: { value: { increment: 1 } } });
    },
    async versions(): Promise<Record<StateKind, number>> {
      const rows = await db.stateVersion.findMany();
      const out: Record<StateKind, number> = { catalog: 0, licenses: 0 };
      for (const r of rows) if (r.kind === "catalog" || r.kind === "licenses") out[r.kind] = r.value;
      return out;
    },
  };
}
export type StateRepo = ReturnType<typeof stateRepo>;
