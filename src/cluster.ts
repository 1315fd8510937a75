// Cluster mode (CHARTROOM_WORKERS > 1, docs/performance.md "Cluster mode"):
// a primary process that serves nothing, and N workers that are each a
// whole Chartroom server sharing the listening port (node:cluster hands new
// connections to the workers in turn). Each worker is a replica in the
// sense of docs/design.md: its own caches and in-memory limits, kept in step
// through the database like replicas behind a load balancer.
//
// The primary:
// - starts one worker and the others once it is ready, so that only one
//   applies migrations, loads the first-boot channels and writes dev keys;
// - exits with a worker's code if that worker dies before any was ready
//   (a start-up failure, as without cluster mode); later deaths are
//   restarted after a back-off;
// - forwards SIGHUP (key reload) and, on SIGTERM / SIGINT, stops every
//   worker gracefully and exits when they have;
// - answers a worker's request for the metrics of all workers (GET /metrics
//   on any worker shows the sums, through prom-client's AggregatorRegistry).
import cluster, { type Worker } from "node:cluster";
import client from "prom-client";
import type pino from "pino";
import type { Config } from "./config.js";

const READY = "chartroom:ready";
const STOP = "chartroom:stop";
const METRICS_REQUEST = "chartroom:metrics?";
const METRICS_ANSWER = "chartroom:metrics";
const MAX_RESTART_DELAY_MS = 30_000;

type Message =
  | { type: typeof READY }
  | { type: typeof STOP }
  | { type: typeof METRICS_REQUEST; id: number }
  | { type: typeof METRICS_ANSWER; id: number; text?: string; error?: string };

/** True in a worker of cluster mode. */
export const inWorker = cluster.isWorker;

/** A worker that stayed up this long has its restart back-off reset. */
const STABLE_MS = 60_000;

export function runPrimary(config: Config, log: pino.Logger): void {
  const wanted = config.CHARTROOM_WORKERS;
  const aggregator = new client.AggregatorRegistry();
  let anyReady = false;
  let stopping = false;
  let restarts = 0;
  // Ours, not cluster.workers: a worker that has exited can still be listed there.
  const live = new Set<Worker>();
  /** Workers that have reported ready, and when. */
  const readyAt = new Map<Worker, number>();

  function fork(): Worker {
    const worker = cluster.fork();
    live.add(worker);
    // A message to a worker that is exiting at that moment fails (EPIPE).
    worker.on("error", (err) => log.warn({ worker: worker.id, err }, "IPC with a worker failed"));
    // A stop sent in a worker's first moments (before its listener exists)
    // is lost: send it again once the worker listens, and once it is ready.
    worker.on("listening", () => {
      if (stopping) send(worker, { type: STOP });
    });
    worker.on("message", (m: Message) => {
      if (m.type === READY) {
        readyAt.set(worker, Date.now());
        log.info({ worker: worker.id, workerPid: worker.process.pid }, "worker ready");
        // Shutdown began while it was starting: it missed nothing, but tell it again.
        if (stopping) return send(worker, { type: STOP });
        if (!anyReady) {
          anyReady = true;
          for (let i = 1; i < wanted; i++) fork();
        }
      } else if (m.type === METRICS_REQUEST) {
        aggregator.clusterMetrics().then(
          (text) => send(worker, { type: METRICS_ANSWER, id: m.id, text }),
          (err: Error) => send(worker, { type: METRICS_ANSWER, id: m.id, error: err.message }),
        );
      }
    });
    return worker;
  }

  function send(worker: Worker, m: Message): void {
    if (worker.isConnected()) worker.send(m);
  }

  cluster.on("exit", (worker, code, signal) => {
    live.delete(worker);
    const upMs = readyAt.has(worker) ? Date.now() - readyAt.get(worker)! : undefined;
    readyAt.delete(worker);
    if (stopping) {
      if (code !== 0) {
        log.error({ worker: worker.id, code, signal }, "a worker did not stop cleanly");
        process.exitCode = 1;
      }
      if (live.size === 0) {
        log.info("all workers stopped");
        process.exit(process.exitCode ?? 0);
      }
      return;
    }
    if (!anyReady) {
      log.fatal({ worker: worker.id, code, signal }, "a worker failed during start-up; stopping");
      process.exitCode = code || 1;
      stopAll();
      return;
    }
    if (upMs !== undefined && upMs >= STABLE_MS) restarts = 0;
    const delay = Math.min(MAX_RESTART_DELAY_MS, 1000 * 2 ** Math.min(restarts++, 5));
    log.error({ worker: worker.id, workerPid: worker.process.pid, code, signal, upMs, restartInMs: delay }, "worker died; restarting it");
    // Not unref'd: with every worker dead, this timer is what keeps the primary alive.
    setTimeout(() => {
      if (!stopping) fork();
    }, delay);
  });

  /**
   * Asks every worker to shut down gracefully. A message, not a signal: a
   * worker that got Ctrl-C's SIGINT itself is already closing and ignores
   * it, where a second signal would make it exit at once. A worker still
   * starting keeps the request until it can act on it.
   */
  function stopAll(): void {
    stopping = true;
    for (const w of live) send(w, { type: STOP });
    // A worker stuck beyond its own shutdown timeout is killed.
    setTimeout(() => {
      for (const w of live) {
        log.error({ worker: w.id, workerPid: w.process.pid }, "a worker did not stop in time; killing it");
        w.process.kill("SIGKILL");
      }
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + 5_000).unref();
    if (live.size === 0) process.exit(process.exitCode ?? 0);
  }

  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.on(sig, () => {
      if (stopping) return;
      log.info({ signal: sig, workers: live.size }, "shutting down the workers");
      stopAll();
    });
  }
  // Key reload. Only to workers that are ready: one still starting has no
  // handler yet (SIGHUP's default would kill it) and loads the keys anyway.
  process.on("SIGHUP", () => {
    for (const w of readyAt.keys()) w.process.kill("SIGHUP");
  });

  log.info({ workers: wanted }, "cluster mode: starting the first worker");
  fork();
}

/** In a worker: tells the primary that this worker serves (after the first load). */
export function reportReady(): void {
  if (inWorker) process.send?.({ type: READY } satisfies Message);
}

// ---- worker side, installed when this module loads: a request from the
// primary that arrives while the worker is still starting is not lost.

let stopRequested = false;
let onStop: (() => void) | undefined;
let nextId = 0;
const pending = new Map<number, { resolve: (text: string) => void; reject: (err: Error) => void }>();
if (inWorker) {
  process.on("message", (m: Message) => {
    if (m.type === STOP) {
      stopRequested = true;
      onStop?.();
    } else if (m.type === METRICS_ANSWER) {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (m.text !== undefined) p.resolve(m.text);
      else p.reject(new Error(`metrics of the other workers: ${m.error ?? "no answer"}`));
    }
  });
  // Answers the primary's AggregatorRegistry from the start (an empty
  // registry until shareMetrics), so a starting worker never stalls a scrape.
  new client.AggregatorRegistry();
}

/** In a worker: `stop` runs when the primary asks this worker to shut down (now, if it has already). */
export function onStopRequest(stop: () => void): void {
  if (!inWorker) return;
  onStop = stop;
  if (stopRequested) stop();
}

/** In a worker: this registry is the one the primary sums over all workers. */
export function shareMetrics(registry: client.Registry): void {
  if (inWorker) client.AggregatorRegistry.setRegistries([registry]);
}

/** The Prometheus text: this process's registry, or in a worker, every worker's summed. */
export function metricsText(registry: client.Registry): Promise<string> {
  if (!inWorker) return registry.metrics();
  return new Promise((resolve, reject) => {
    const id = nextId++;
    pending.set(id, { resolve, reject });
    process.send?.({ type: METRICS_REQUEST, id } satisfies Message);
    setTimeout(() => {
      if (pending.delete(id)) reject(new Error("metrics of the other workers: no answer within 10 s"));
    }, 10_000).unref();
  });
}
