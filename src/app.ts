// Builds the Chartroom HTTP app from a context; never listens (server.ts
// does), so tests drive it with app.inject(). Plugins in the order they act.
import { createServer } from "node:http";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from "fastify";
import fastifyHelmet from "@fastify/helmet";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "@fastify/type-provider-zod";
import type { Context } from "./context.js";
import { MAX_PATH_PARAM_LENGTH } from "./domain/schemas.js";
import { trustProxyOption } from "./routes/client-ip.js";
import errorHandler, { renderClientError, renderFrameworkError } from "./plugins/error-handler.js";
import adminAuth from "./plugins/admin-auth.js";
import ipRateLimit, { limitHook } from "./plugins/rate-limits.js";
import { operatorRoutes } from "./routes/operator.js";
import { serviceRoutes } from "./routes/service.js";
import { catalogRoutes } from "./routes/admin/catalog-routes.js";
import { licenseRoutes } from "./routes/admin/license-routes.js";
import { resolveRoutes } from "./routes/admin/resolve-routes.js";
import { freezeRoutes } from "./routes/admin/freeze-routes.js";
import { rolloutRoutes } from "./routes/admin/rollout-routes.js";
import { webhookRoutes } from "./routes/admin/webhook-routes.js";
import { bundleRoutes } from "./routes/admin/bundle-routes.js";

import { applyRoutes } from "./routes/admin/apply-routes.js";
import { consoleRoutes } from "./routes/console-routes.js";
import { documentOperations } from "./routes/openapi-docs.js";
import { useStrictJsonBody } from "./routes/admin/json-body.js";
import { requestIdFor } from "./request-id.js";
import { requestObserver } from "./metrics.js";
import type { PollReplay } from "./routes/poll-replay.js";

export interface AppOptions {
  ctx: Context;
  logger?: FastifyServerOptions["logger"];
  loggerInstance?: FastifyServerOptions["loggerInstance"];
}

/**
 * The most header bytes a request may carry (Node's default is 16 KiB).
 * Room for a Basic header with a license of up to ~23 KiB, so one over the
 * contract's 8 KiB gets its 401 LICENSE_TOO_LARGE; beyond it, 431
 * HEADERS_TOO_LARGE. docs/api.md §13; nginx.conf's large_client_header_buffers match.
 */
export const MAX_HEADER_BYTES = 32 * 1024;


export async function buildApp({ ctx, logger, loggerInstance }: AppOptions): Promise<FastifyInstance> {
  // Polls the channel route has rendered already are replayed before
  // fastify's pipeline (src/routes/poll-replay.ts); everything else goes to fastify.
  let replay: PollReplay | undefined;
  const app = Fastify({
    serverFactory: (handler, options) => {
      const opts = options as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number };
      const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, (req, res) => (replay ? replay.handle(req, res, handler) : handler(req, res)));
      // What fastify sets on a server it creates itself.
      server.keepAliveTimeout = opts.keepAliveTimeout;
      server.requestTimeout = opts.requestTimeout;
      server.setTimeout(opts.connectionTimeout);
      if (opts.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = opts.maxRequestsPerSocket;
      return server;
    },
    ...(loggerInstance ? { loggerInstance } : { logger: logger ?? false }),
    bodyLimit: ctx.config.BODY_LIMIT_BYTES,
    // Every identifier a schema accepts (a license's sub or jti: 256) reaches its route.
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    requestTimeout: 30_000,
    return503OnClosing: true,
    trustProxy: trustProxyOption(ctx.config.TRUST_PROXY),
    // Errors fastify finds before routing (a malformed URL) go through our error handler too.
    frameworkErrors: (err, req, reply) => renderFrameworkError(err, req as FastifyRequest, reply as FastifyReply),
    // And those Node's HTTP parser refuses (headers over MAX_HEADER_BYTES).
    clientErrorHandler(err, socket) {
      // fastify calls it bound to the instance (its type says the options).
      renderClientError(err, socket, (this as unknown as FastifyInstance).log, MAX_HEADER_BYTES);
    },
    // A caller's request id is kept (and echoed) so logs can be joined up.
    genReqId: (req) => requestIdFor(req.headers["x-request-id"]),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const { metrics } = ctx;
  // Callback-style hooks: no promise per request on the hot path.
  app.addHook("onRequest", (req, reply, done) => {
    reply.header("x-request-id", req.id);
    done();
  });
  // Latency and status of every request, by route. Each route gets its own
  // onResponse hook with its route label bound when it is registered, so no
  // request pays fastify's routeOptions getter; requests that no route
  // matched are counted as "unmatched" by the app-wide hook.
  app.addHook("onRoute", (route) => {
    const observe = requestObserver(metrics, route.url);
    route.onResponse = [...[route.onResponse ?? []].flat(), (req, reply, done) => {
      observe(req.method, reply.statusCode, reply.elapsedTime);
      done();
    }];
  });
  const unmatched = requestObserver(metrics, "unmatched");
  app.addHook("onResponse", (req, reply, done) => {
    if (req.is404) unmatched(req.method, reply.statusCode, reply.elapsedTime);
    done();
  });

  await app.register(errorHandler, { onUnavailable: () => metrics.dbErrors.inc() });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Chartroom",
        version: "1",
        description:
          "Release-channel deploy server: operators poll it with a license JWT for the spec of their channel; release engineers create releases and promote, roll back and yank them. The contract is docs/api.md in the Chartroom repository; the user guide is docs/guide/, its error codes page docs/guide/errors.md. Every operation has a description (for the admin API its role and CLI command), examples, and the error codes it can answer per status (`x-error-codes`).",
      },
      components: {
        securitySchemes: {
          license: { type: "http", scheme: "basic", description: 'user "license", password: the license JWT (as the W&B operator sends it)' },
          licenseBearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "the license JWT" },
          adminBearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "admin JWT with roles ⊆ viewer, release-engineer, admin" },
        },
      },
    },
    transform: jsonSchemaTransform,
    transformObject: (d) => ("openapiObject" in d ? documentOperations(d.openapiObject) : d.swaggerObject),
  });

  // The operator routes set their own constant block of security headers
  // (src/routes/operator.ts); the error handler sets it on errors and 404s.
  await app.register(operatorRoutes, { ctx, onReplay: (r) => (replay = r) });
  // The console's static files set their own constant headers (a stricter
  // policy than helmet's: src/plugins/security-headers.ts).
  await app.register(consoleRoutes);
  // Everything else: helmet's headers, computed per request (docs and,
  // later, the console need their own policies). No CORS anywhere (no
  // cross-origin browser use).
  await app.register(async (rest) => {
    await rest.register(fastifyHelmet, { global: true });
    // Probes and /metrics: never rate-limited.
    await rest.register(serviceRoutes, { ctx });
    // The docs and the admin API: limited per client IP first of all (a bad
    // admin token costs a count: src/plugins/rate-limits.ts), then per admin subject.
    await rest.register(async (limited) => {
      await limited.register(ipRateLimit, { ip: ctx.limits.ip });
      await limited.register(fastifySwaggerUi, { routePrefix: "/docs", staticCSP: true });
      limited.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
      await limited.register(
        async (admin) => {
          // Bad JSON keys (__proto__, constructor.prototype) are named, not just refused.
          useStrictJsonBody(admin);
          await admin.register(adminAuth, { keys: ctx.admin, audience: ctx.config.ADMIN_AUDIENCE, issuer: ctx.config.ADMIN_ISSUER });
          if (ctx.limits.admin) admin.addHook("preHandler", limitHook(ctx.limits.admin, (req) => req.user?.sub ?? "?"));
          await admin.register(catalogRoutes, { ctx });
          await admin.register(licenseRoutes, { ctx });
          await admin.register(resolveRoutes, { ctx });
          await admin.register(freezeRoutes, { ctx });
          await admin.register(rolloutRoutes, { ctx });
          await admin.register(webhookRoutes, { ctx });
          await admin.register(bundleRoutes, { ctx });

          await admin.register(applyRoutes, { ctx });
        },
        { prefix: "/api/v1/admin" },
      );
    });
  });
  return app;
}
