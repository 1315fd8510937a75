import type { Db } from "../db/client.js";

/** Kinds of cached state that a change makes stale on every replica. */
export type StateKind = "catalog" | "licenses";

export function stateRepo(db: Pick<Db, "stateVersion">) {
  return {
    /** Bumps the version of a kind of state, in the caller's transaction. */
    async bump(kind: StateKind): Promise<number> {
      const row = await db.stateVersion.upsert({ where: { kind }, create: { kind, value: 1 }, update: { value: { increment: 1 } } });
      return row.value;
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
