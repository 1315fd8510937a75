// At most `slots` of one kind of write at once in this process, at most
// `queue` waiting for a slot; beyond that a 503 DATABASE_BUSY at once
// (Retry-After), never a wait for a database connection that times out
// later. Health reports use it (src/services/report-service.ts) so that a
// burst of them cannot take every connection of the pool (10 on
// PostgreSQL, src/db/client.ts) from the admin API and the fleet recorder.
import { DatabaseBusyError } from "../errors.js";

export function writeSlots(slots: number, queue: number) {
  let busy = 0;
  const waiting: (() => void)[] = [];
  return {
    async run<T>(fn: () => Promise<T>): Promise<T> {
      if (busy < slots) busy++;
      else if (waiting.length >= queue) throw new DatabaseBusyError();
      // The slot is handed over by the one that ends (busy stays counted).
      else await new Promise<void>((resolve) => waiting.push(resolve));
      try {
        return await fn();
      } finally {
        const next = waiting.shift();
        if (next) next();
        else busy--;
      }
    },
    /** Writes running and waiting now (tests, diagnostics). */
    get load(): { running: number; waiting: number } {
      return { running: busy, waiting: waiting.length };
    },
  };
}
export type WriteSlots = ReturnType<typeof writeSlots>;
