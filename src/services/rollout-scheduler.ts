// Runs the rollouts' progression (docs/api.md §7) about once a second on
// every replica: each tick asks src/services/rollout-service.ts to end the
// steps whose bake has passed. On PostgreSQL only one replica progresses a
// given rollout at a time (a transaction-level advisory lock, taken without
// waiting), and every change is guarded by the channel's row version, so
// ticks on several replicas never step a rollout twice. Nothing is kept in
// memory between ticks: a restart resumes every step where the database
// says it is (its bake counted from the stored step start).

import { ticker, type Ticker } from "./ticker.js";

export interface RolloutSchedulerOptions {
  progressDue: () => Promise<{ id: string; state: string; step: number }[]>;
  intervalMs?: number;
  onProgress?: (changed: { id: string; state: string; step: number }[]) => void;
  onError?: (err: unknown) => void;
}

export function rolloutScheduler(opts: RolloutSchedulerOptions): Ticker {
  return ticker(
    async () => {
      const changed = await opts.progressDue();
      if (changed.length > 0) opts.onProgress?.(changed);
    },
    { intervalMs: opts.intervalMs ?? 1000, onError: opts.onError },
  );
}
export type RolloutScheduler = Ticker;
