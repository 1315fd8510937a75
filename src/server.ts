// Starts Chartroom: parse config, prepare the database, build the app,
// listen, and shut down gracefully on SIGTERM/SIGINT (close-with-grace:
// stop accepting, finish in-flight requests, flush fleet records, close
// the database) within SHUTDOWN_TIMEOUT_MS.
import type { Socket } from "node:net";
import closeWithGrace from "close-with-grace";
import pino from "pino";
import { buildApp } from "./app.js";
import { prepareDatabase } from "./boot.js";
import { ConfigError, loadConfig, type Config } from "./config.js";
import { createContext, type Context } from "./context.js";
import { MigrationChecksumError } from "./db/migrate.js";
import { loggerOptions } from "./logger.js";

function printWelcome(config: Config, log: pino.Logger, address: string): void {
  const base = address.replace("0.0.0.0", "127.0.0.1").replace("[::]", "127.0.0.1");
  log.info({ url: base, docs: `${base}/docs` }, "chartroom listening");
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
  let ctx: Context;
  try {
    ctx = createContext(config, log);
  } catch (err) {
    log.fatal({ err }, "start-up failed: keys or configuration cannot be used");
    process.exit(1);
  }
  const app = await buildApp({ ctx, loggerInstance: log });
  let stopping = false;

  // Draining. app.close() on its own reaps every keep-alive connection that
  // looks idle and answers 503 to whatever it reads next — which includes
  // requests a client had already sent on a kept-alive connection (still in
  // the socket buffer): they were reset. So first, for at most drainMs, the
  // server goes on reading and answering, with `Connection: close` (each
  // client drops its connection after that answer) and /readyz 503; it
  // closes once the connections open at the signal are gone.
  let draining = false;
  const connections = new Set<Socket>();
  app.server.on("connection", (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  // Prepended: runs before Fastify answers (a cached poll answers synchronously).
  app.server.prependListener("request", (_req, res) => {
    if (draining) res.setHeader("connection", "close");
  });
  app.addHook("onRequest", (req, reply, done) => {
    if (draining && req.url === "/readyz") {
      reply.code(503).send({ status: "not ready", reason: "shutting down" });
      return;
    }
    done();
  });
  const drainMs = Math.min(2_000, Math.floor(config.SHUTDOWN_TIMEOUT_MS / 4));
  async function drain(): Promise<void> {
    draining = true;
    const open = [...connections];
    const started = Date.now();
    while (open.some((s) => !s.destroyed) && Date.now() - started < drainMs) await new Promise((r) => setTimeout(r, 20));
    log.info({ connections: open.length, left: open.filter((s) => !s.destroyed).length, ms: Date.now() - started }, "drained; closing");
  }

  // SIGHUP is not a shutdown here: it reloads the license keys (below).
  closeWithGrace({ delay: config.SHUTDOWN_TIMEOUT_MS, logger: log, skip: ["SIGHUP"] }, async ({ signal, err }) => {
    if (err) log.error({ err }, "shutting down after an error");
    else log.info({ signal }, "shutting down");
    stopping = true;
    if (!err) await drain();
    await app.close();
    await ctx.stop();
  });
  process.on("SIGHUP", () => {
    const ok = ctx.reloadKeys();
    log.info({ ok }, "SIGHUP: license keys reloaded");
  });

  // Listen first: /healthz answers while the database is still coming up,
  // and /readyz says "not ready" until the first load succeeds.
  const address = await app.listen({ port: config.PORT, host: config.HOST });
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
  printWelcome(config, log, address);
}

await main();
