// Service endpoints (docs/api.md §4): liveness, readiness, the JWKS (license
// and spec keys).
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Context } from "../context.js";
import { metricsText } from "../cluster.js";

export async function serviceRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  app.get("/healthz", {
    schema: { tags: ["service"], summary: "The process is alive", response: { 200: z.object({ status: z.literal("ok") }) } },
  }, async () => ({ status: "ok" as const }));

  app.get("/readyz", {
    schema: {
      tags: ["service"],
      summary: "Ready: database reachable and every migration applied",
      response: { 200: z.object({ status: z.literal("ready") }), 503: z.object({ status: z.literal("not ready"), reason: z.string() }) },
    },
  }, async (req, reply) => {
    const r = await ctx.readiness.check();
    if (r.ready) return { status: "ready" as const };
    if (r.error !== undefined) req.log.warn({ err: r.error }, "readiness check failed");
    return reply.code(503).send({ status: "not ready" as const, reason: r.reason });
  });

  app.get("/metrics", {
    schema: {
      tags: ["service"],
      summary: "Prometheus metrics (text exposition format)",
      description: "In cluster mode (CHARTROOM_WORKERS > 1) every worker answers with the sums over all workers.",
    },
  }, async (_req, reply) => {
    reply.type(ctx.metrics.registry.contentType);
    return metricsText(ctx.metrics.registry);
  });

  app.get("/.well-known/jwks.json", {
    schema: {
      tags: ["service"],
      summary: "Public keys of the licenses this server issues and of its spec signatures",
      description:
        "The license signing key (when this server issues licenses), then the spec key that signs X-Chartroom-Signature and bundles, " +
        "then SPEC_JWKS_FILE's spec keys (a previous or next key during a rotation). Each has its kid (the RFC 7638 thumbprint), alg and use sig.",
      response: { 200: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) },
    },
  }, async (_req, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return { keys: [...ctx.keyring.publicJwks().keys, ...ctx.specKeys.publicJwks()] };
  });
}
