// Service endpoints (API.md §4): liveness, readiness, the license JWKS.
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { readMigrations } from "../db/migrate.js";
import type { Context } from "../context.js";
import { metricsText } from "../cluster.js";

export async function serviceRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const expected = readMigrations(ctx.store.provider).map((m) => m.name);
  let migrationsOk = false;

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
    if (!ctx.health.loaded) return reply.code(503).send({ status: "not ready" as const, reason: "starting: waiting for the first successful load from the database" });
    try {
      await ctx.store.ping();
      if (!migrationsOk) {
        const applied = new Set(await ctx.store.appliedMigrations());
        const pending = expected.filter((m) => !applied.has(m));
        if (pending.length > 0) return reply.code(503).send({ status: "not ready" as const, reason: `migrations pending: ${pending.join(", ")}` });
        migrationsOk = true;
      }
      return { status: "ready" as const };
    } catch (err) {
      req.log.warn({ err }, "readiness check failed");
      return reply.code(503).send({ status: "not ready" as const, reason: "database unreachable" });
    }
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
    schema: { tags: ["service"], summary: "Public keys of the licenses this server issues", response: { 200: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }) } },
  }, async (_req, reply) => {
    reply.header("cache-control", "public, max-age=300");
    return ctx.keyring.publicJwks();
  });
}
