// Builds the Chartroom HTTP app from a context; never listens (server.ts
// does), so tests drive it with app.inject(). Plugins in the order they act.
import { createServer } from "node:http";
import Fastify, { type FastifyInstance, type FastifyServerOptions } from "fastify";
import fastifyHelmet from "@fastify/helmet";
import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "@fastify/type-provider-zod";
import type { Context } from "./context.js";
import errorHandler from "./plugins/error-handler.js";
import adminAuth from "./plugins/admin-auth.js";
import rateLimits, { limitHook } from "./plugins/rate-limits.js";
import { operatorRoutes } from "./routes/operator.js";
import { serviceRoutes } from "./routes/service.js";
import { catalogRoutes } from "./routes/admin/catalog-routes.js";
import { licenseRoutes } from "./routes/admin/license-routes.js";
import { useStrictJsonBody } from "./routes/admin/json-body.js";
import type { OperatorFastPath } from "./routes/operator-fast-path.js";
import { requestIdFor } from "./request-id.js";

export interface AppOptions {
  ctx: Context;
  logger?: FastifyServerOptions["logger"];
  loggerInstance?: FastifyServerOptions["loggerInstance"];
}

export async function buildApp({ ctx, logger, loggerInstance }: AppOptions): Promise<FastifyInstance> {
  // Operator polls that can be answered from memory skip fastify's pipeline
  // (routes/operator-fast-path.ts); everything else goes to fastify's handler.
  let fastPath: OperatorFastPath | undefined;
  const app = Fastify({
    serverFactory: (handler, options) => {
      const opts = options as { keepAliveTimeout: number; requestTimeout: number; connectionTimeout: number; maxRequestsPerSocket: number };
      const server = createServer((req, res) => (fastPath ? fastPath.handle(req, res, handler) : handler(req, res)));
      // What fastify sets on a server it creates itself.
      server.keepAliveTimeout = opts.keepAliveTimeout;
      server.requestTimeout = opts.requestTimeout;
      server.setTimeout(opts.connectionTimeout);
      if (opts.maxRequestsPerSocket > 0) server.maxRequestsPerSocket = opts.maxRequestsPerSocket;
      return server;
    },
    ...(loggerInstance ? { loggerInstance } : { logger: logger ?? false }),
    bodyLimit: ctx.config.BODY_LIMIT_BYTES,
    requestTimeout: 30_000,
    return503OnClosing: true,
    trustProxy: ctx.config.TRUST_PROXY,
    // A caller's request id is kept (and echoed) so logs can be joined up.
    genReqId: (req) => requestIdFor(req.headers["x-request-id"]),
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Request id echoed; latency and status counted per route (label sets cached).
  const { metrics } = ctx;
  const observers = new Map<string, { observe(v: number): void }>();
  // Callback-style hooks: no promise per request on the hot path.
  app.addHook("onRequest", (req, reply, done) => {
    reply.header("x-request-id", req.id);
    done();
  });
  app.addHook("onResponse", (req, reply, done) => {
    const route = req.routeOptions.url ?? "unmatched";
    const key = `${req.method} ${route} ${reply.statusCode}`;
    let o = observers.get(key);
    if (!o) {
      o = metrics.requests.labels(req.method, route, String(reply.statusCode));
      observers.set(key, o);
    }
    o.observe(reply.elapsedTime / 1000);
    done();
  });

  await app.register(errorHandler, { onUnavailable: () => metrics.dbErrors.inc() });
  // Security headers on every answer; no CORS (no cross-origin browser use).
  await app.register(fastifyHelmet, { global: true });
  await app.register(rateLimits, {
    ipPerMinute: ctx.config.RATE_LIMIT_IP_PER_MINUTE,
    licensePerMinute: ctx.config.RATE_LIMIT_LICENSE_PER_MINUTE,
    adminPerMinute: ctx.config.RATE_LIMIT_ADMIN_PER_MINUTE,
    redisUrl: ctx.config.REDIS_URL,
    metrics,
  });
  await app.register(fastifySwagger, {
    openapi: {
      openapi: "3.0.3",
      info: { title: "Chartroom", version: "1", description: "Release-channel deploy server. Contract: API.md (operator endpoints, license rules, admin API)." },
      components: {
        securitySchemes: {
          license: { type: "http", scheme: "basic", description: 'user "license", password: the license JWT (as the W&B operator sends it)' },
          licenseBearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "the license JWT" },
          adminBearer: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "admin JWT with roles ⊆ viewer, release-engineer, admin" },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/docs", staticCSP: true });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  await app.register(serviceRoutes, { ctx });
  await app.register(operatorRoutes, { ctx, onFastPath: (f) => (fastPath = f) });
  await app.register(
    async (admin) => {
      // Bad JSON keys (__proto__, constructor.prototype) are named, not just refused.
      useStrictJsonBody(admin);
      await admin.register(adminAuth, { keys: ctx.admin, audience: ctx.config.ADMIN_AUDIENCE, issuer: ctx.config.ADMIN_ISSUER });
      if (app.limits.admin) admin.addHook("preHandler", limitHook(app.limits.admin, (req) => req.user?.sub ?? "?"));
      await admin.register(catalogRoutes, { ctx });
      await admin.register(licenseRoutes, { ctx });
    },
    { prefix: "/api/v1/admin" },
  );
  return app;
}
