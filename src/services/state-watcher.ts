// Keeps this replica's caches in step with the database: every change bumps
// a version row (catalog, licenses) in its own transaction; this watcher
// polls those two numbers and reloads what moved. Local changes call
// `changed()` directly, so this replica never waits for its own writes.
import type { StateKind } from "../repositories/state-repo.js";

export interface StateWatcherOptions {
  versions: () => Promise<Record<StateKind, number>>;
  onChange: (kind: StateKind) => Promise<void> | void;
  intervalMs?: number;
  onError?: (err: unknown) => void;
  /** Told after every check whether the database answered. */
  onHealth?: (ok: boolean) => void;
}

export function stateWatcher(opts: StateWatcherOptions) {
  let seen: Record<StateKind, number> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;

  async function check(): Promise<void> {
    let now: Record<StateKind, number>;
    try {
      now = await opts.versions();
    } catch (err) {
      opts.onHealth?.(false);
      throw err;
    }
    opts.onHealth?.(true);
    const before = seen;
    seen = now;
    if (!before) return;
    for (const kind of Object.keys(now) as StateKind[]) {
      if (now[kind] !== before[kind]) await opts.onChange(kind);
    }
  }

  return {
    /** Reads the current versions (call once after the first load). */
    async init(): Promise<void> {
      seen = await opts.versions();
      },
    async check(): Promise<void> {
      if (!running) running = check().finally(() => (running = undefined));
      return running;
    },
    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        this.check().catch((err: unknown) => opts.onError?.(err));
      }, opts.intervalMs ?? 1000);
      timer.unref();
    },
    stop(): void {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}
