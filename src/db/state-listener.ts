// LISTEN on PostgreSQL for state changes made by other replicas (see
// state-repo.ts: every change NOTIFYs in its transaction). One dedicated
// connection, reconnected with backoff when it drops. A missed notification
// is caught by the periodic version check (services/state-watcher.ts).
import type pg from "pg";
import { loadPg } from "./migrate.js";
import { STATE_CHANNEL, type StateKind } from "../repositories/state-repo.js";

export interface StateListenerOptions {
  url: string;
  onNotify: (kind: StateKind, lagMs: number | undefined) => void;
  onConnected?: () => void;
  onError?: (err: unknown) => void;
  maxBackoffMs?: number;
}

export function stateListener(opts: StateListenerOptions) {
  let client: pg.Client | undefined;
  let stopped = false;
  let attempt = 0;
  let timer: NodeJS.Timeout | undefined;
  let connected = false;

  function schedule(): void {
    if (stopped) return;
    const delay = Math.min(opts.maxBackoffMs ?? 10_000, 200 * 2 ** Math.min(attempt++, 6));
    timer = setTimeout(() => void connect(), delay);
    timer.unref();
  }

  async function connect(): Promise<void> {
    if (stopped) return;
    const { Client } = await loadPg();
    if (stopped) return;
    const c = new Client({ connectionString: opts.url, connectionTimeoutMillis: 5000, keepAlive: true });
    client = c;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      connected = false;
      if (!stopped) opts.onError?.(err);
      c.removeAllListeners();
      c.on("error", () => {});
      c.end().catch(() => {});
      schedule();
    };
    c.on("error", fail);
    c.on("end", () => fail(new Error("LISTEN connection ended")));
    c.on("notification", (msg) => {
      const [kind, at] = (msg.payload ?? "").split(":");
      if (kind !== "catalog" && kind !== "licenses") return;
      const sent = Number(at);
      opts.onNotify(kind, Number.isFinite(sent) ? Math.max(0, Date.now() - sent) : undefined);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${STATE_CHANNEL}`);
      attempt = 0;
      connected = true;
      opts.onConnected?.();
    } catch (err) {
      fail(err);
    }
  }

  return {
    start(): void {
      void connect();
    },
    isConnected: () => connected,
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      const c = client;
      client = undefined;
      if (c) {
        c.removeAllListeners();
        c.on("error", () => {});
        await c.end().catch(() => {});
      }
    },
  };
}
