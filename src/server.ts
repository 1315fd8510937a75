// Starts Chartroom: parse config, prepare the database, build the app,
// listen, and shut down gracefully on SIGTERM/SIGINT (close-with-grace:
// every answer says Connection: close for up to a second, then stop
// accepting, finish in-flight requests, flush fleet records, close the
// database) within SHUTDOWN_TIMEOUT_MS. With CHARTROOM_WORKERS > 1 this
// process is the cluster's primary instead (src/cluster.ts), and each
// worker runs the server below.
import cluster from "node:cluster";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import closeWithGrace from "close-with-grace";
import pino from "pino";
// Static: a worker listens for the primary's messages as soon as it can (one
// sent earlier is sent again when the worker listens and when it is ready).
import { onStopRequest, reportReady, runPrimary, shareMetrics } from "./cluster.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import type { Context } from "./context.js";
import { loggerOptions } from "./logger.js";

function printWelcome(config: Config, log: pino.Logger, address: string): void {
  const base = address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "127.0.0.1");
  log.info({ url: base, docs: `${base}/docs` }, "chartroom listening");
  if (config.devKeys && config.hostDefaulted) {
    log.warn({ host: config.HOST }, "development keys: listening on 127.0.0.1 only (this machine); set HOST=0.0.0.0 to accept other machines");
  }
  if (config.devKeys) {
    log.warn(
      {
        adminToken: "export CHARTROOM_TOKEN=$(./bin/chartroom.js token --sub you@example.com --role admin)",
        devLicense: "export LICENSE=$(./bin/chartroom.js license dev --sub customer-1 --channel stable)",
        poll: `curl -u "license:$LICENSE" ${base}/api/v1/operator/channel`,
      },
      "development mode: get an admin token and a dev license with these commands",
    );
  }
}

/** What to say when the port cannot be bound, or undefined for another error (logged as it is). */
function listenFailure(err: unknown, config: Pick<Config, "PORT" | "HOST">): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `${config.HOST}:${config.PORT}`;
  if (code === "EADDRINUSE") return `port ${config.PORT} is in use (${where}): stop what listens there, or set PORT=… to another port (e.g. PORT=${config.PORT === 65535 ? 8081 : config.PORT + 1})`;
  if (code === "EACCES") return `no permission to listen on ${where} (ports below 1024 need privileges): set PORT=… to 1024 or above (e.g. PORT=8080)`;
  if (code === "EADDRNOTAVAIL") return `HOST=${config.HOST} is not an address of this machine: set HOST=… to one of its addresses (127.0.0.1, 0.0.0.0 for all)`;
  return undefined;
}

/** The longest a shutdown waits for keep-alive clients to send their last request. */
const MAX_DRAIN_LINGER_MS = 1_000;

/**
 * The first step of a shutdown (issue 13). Closing an idle keep-alive
 * connection races with a client that is writing its next request on it,
 * which then gets a reset. So first every answer says `Connection: close`
 * (a client then opens no further request on that connection) and requests
 * on idle connections are still served, for `lingerMs` or until no
 * connection is left. Then app.close() stops accepting, closes the
 * connections still idle and finishes the requests in flight (fastify
 * answers any newer one 503 with `Connection: close`).
 */
async function drainKeepAlive(server: Server, lingerMs: number): Promise<void> {
  server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => res.setHeader("connection", "close"));
  const until = Date.now() + lingerMs;
  while (Date.now() < until) {
    const open = await new Promise<number>((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)));
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`chartroom: configuration error: ${p}\n`);
      process.exit(78);
    }
    throw err;
  }
  const pretty = process.stdout.isTTY === true;
  const log = pino(loggerOptions(config, { pretty }) as pino.LoggerOptions);
  if (config.CHARTROOM_WORKERS > 1 && cluster.isPrimary) {
    // The primary serves nothing: the server's modules are not even loaded.
    runPrimary(config, log);
    return;
  }
  const [{ buildApp }, { prepareDatabase }, { createContext }, { MigrationChecksumError }] = await Promise.all([
    import("./app.js"),
    import("./boot.js"),
    import("./context.js"),
    import("./db/migrate.js"),
  ]);
  let ctx: Context;
  try {
    ctx = await createContext(config, log);
  } catch (err) {
    log.fatal({ err }, "start-up failed: keys or configuration cannot be used");
    process.exit(1);
  }
  const app = await buildApp({ ctx, loggerInstance: log });
  let stopping = false;

  // close-with-grace also shuts down on SIGHUP by default; here SIGHUP
  // reloads the license keys (below) and must leave the server running.
  const grace = closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: log, skip: ["SIGHUP"] }, async ({ signal, err, manual }) => {
    stopping = true;
    if (err) log.error({ err }, "shutting down after an error");
    else log.info({ signal: signal ?? (manual ? "asked by the cluster primary" : undefined) }, "shutting down");
    await drainKeepAlive(app.server, Math.min(MAX_DRAIN_LINGER_MS, config.SHUTDOWN_TIMEOUT_MS / 4));
    await app.close();
    await ctx.stop();
  });
  // Cluster mode: the primary asks by message (a worker that got Ctrl-C's
  // SIGINT itself is already closing), and /metrics sums every worker.
  onStopRequest(() => {
    if (!stopping) grace.close();
  });
  shareMetrics(ctx.metrics.registry);
  process.on("SIGHUP", () => {
    const ok = ctx.reloadKeys();
    log.info({ ok }, "SIGHUP: license and spec keys reloaded");
  });

  // Listen first: /healthz answers while the database is still coming up,
  // and /readyz says "not ready" until the first load succeeds.
  let address: string;
  try {
    address = await app.listen({ port: config.PORT, host: config.HOST });
  } catch (err) {
    const line = listenFailure(err, config);
    if (!line) throw err;
    // One line a person reads, not a logged stack: the usual mistake of a second server on the port.
    process.stderr.write(`chartroom: ${line}\n`);
    await ctx.stop().catch(() => {});
    process.exit(1);
  }
  for (let attempt = 1; !stopping; attempt++) {
    try {
      await prepareDatabase(ctx, log);
      await ctx.start();
      break;
    } catch (err) {
      if (err instanceof MigrationChecksumError) {
        log.fatal({ err }, "start-up failed");
        process.exit(1);
      }
      const delay = Math.min(15_000, 500 * 2 ** Math.min(attempt, 5));
      log.error({ err, attempt, retryInMs: delay }, "database not ready; retrying");
      await new Promise((r) => setTimeout(r, delay));
    }
  }
  if (stopping) return;
  reportReady();
  // In cluster mode, once (the first worker), not once per worker.
  if (!cluster.isWorker || cluster.worker?.id === 1) printWelcome(config, log, address);
}

await main();
