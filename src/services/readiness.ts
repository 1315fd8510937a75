// Whether this replica is ready for traffic (GET /readyz): its first load
// has succeeded, the database answers, every migration in the folder is
// applied, and the database stores writes: after a write was refused (a
// full disk, a read-only file or server) each check tries one real write
// until one succeeds (docs/decisions.md). Once all migrations were seen applied they are not asked
// for again (a migration is never un-applied while the process runs).
import type { Store } from "../repositories/store.js";

export type Readiness = { ready: true } | { ready: false; reason: string; error?: unknown };

export interface ReadinessDeps {
  store: Pick<Store, "ping" | "appliedMigrations" | "writeRefused" | "probeWrite">;
  /** The names of the migrations this build ships. */
  expectedMigrations: () => string[];
  health: { readonly loaded: boolean };
}

export function readinessService({ store, expectedMigrations, health }: ReadinessDeps) {
  let migrationsOk = false;
  return {
    async check(): Promise<Readiness> {
      if (!health.loaded) return { ready: false, reason: "starting: waiting for the first successful load from the database" };
      try {
        await store.ping();
      } catch (error) {
        return { ready: false, reason: "database unreachable", error };
      }
      if (store.writeRefused() !== undefined) {
        try {
          await store.probeWrite();
        } catch (error) {
          return { ready: false, reason: "database refuses writes (disk full or read-only)", error };
        }
      }
      try {
        if (!migrationsOk) {
          const applied = new Set(await store.appliedMigrations());
          const pending = expectedMigrations().filter((m) => !applied.has(m));
          if (pending.length > 0) return { ready: false, reason: `migrations pending: ${pending.join(", ")}` };
          migrationsOk = true;
        }
        return { ready: true };
      } catch (error) {
        return { ready: false, reason: "database unreachable", error };
      }
    },
  };
}
export type ReadinessService = ReturnType<typeof readinessService>;
