// One background loop, shared by the rollout scheduler
// (src/services/rollout-scheduler.ts) and the webhook dispatcher
// (src/services/webhook-dispatcher.ts): runs `tick` every `intervalMs`,
// never two at once (a tick asked for while one runs shares it), without
// keeping the process alive; stop() waits for the tick in flight.

export interface Ticker {
  /** One tick now (a tick already running is shared). */
  tick(): Promise<void>;
  start(): void;
  /** Stops ticking and waits for the tick in flight. */
  stop(): Promise<void>;
}

export function ticker(tick: () => Promise<void>, opts: { intervalMs: number; onError?: ((err: unknown) => void) | undefined }): Ticker {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const once = (): Promise<void> => (running ??= tick().finally(() => (running = undefined)));
  return {
    tick: once,
    start(): void {
      if (timer) return;
      timer = setInterval(() => {
        once().catch((err: unknown) => opts.onError?.(err));
      }, opts.intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running?.catch(() => {});
    },
  };
}
