// The operator endpoints (API.md §1): what a W&B-style operator polls.
// The warm path is synchronous: a cached license verification, a Set lookup
// for revocation, a cached pre-serialized body. No database, no signature
// check, no JSON serialization per request.
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { z } from "zod";
import type { License } from "../licensing/verify-license.js";
import type { Context } from "../context.js";
import type { SerializedSpec } from "../services/spec.js";
import { pollGate, type Admission } from "../services/poll-gate.js";
import { errorResponses } from "./openapi-shared.js";
import { NotReadyError } from "../errors.js";
import { CHANNEL_PATH, handedOver, matchesEtag, operatorFastPath, pollHeaders, servedPoll, type OperatorFastPath } from "./operator-fast-path.js";

const specResponse = z
  .object({
    metadata: z.record(z.string(), z.string()).describe("every value a string (the operator decodes map[string]string)"),
    chart: z.union([
      z.object({ path: z.string() }),
      z.object({ url: z.string().describe("oci://…"), version: z.string() }),
      z.object({ url: z.string().describe("https://…"), name: z.string(), version: z.string() }),
    ]),
    values: z.record(z.string(), z.unknown()).describe("Helm values: channel defaults ⊕ release values ⊕ image tags ⊕ license overrides"),
  })
  .describe("The spec of a release, as the W&B operator's deployer client decodes it");

declare module "fastify" {
  interface FastifyRequest {
    /** The verified license of an operator request (set by its onRequest hook). */
    license: License | null;
  }
}

export interface OperatorRoutesOptions {
  ctx: Context;
  /** Receives the fast path (the server's request listener uses it). */
  onFastPath?: (fast: OperatorFastPath) => void;
}

export async function operatorRoutes(app: FastifyInstance, { ctx, onFastPath }: OperatorRoutesOptions) {
  const { verifier, revocations, specs, fleet, health, metrics } = ctx;
  app.decorateRequest("license", null);

  const gate = pollGate({
    verifier,
    revocations,
    metrics,
    ipLimit: app.limits?.ip ?? null,
    licenseLimit: app.limits?.license ?? null,
  });
  const fast = operatorFastPath({ gate, specs, fleet, health, trustProxy: ctx.config.TRUST_PROXY });
  metrics.bindFastPath(() => fast.stats());
  app.addHook("preClose", (done) => {
    fast.close();
    done();
  });
  // At info and below every poll is logged, which only fastify's pipeline does.
  if (!["info", "debug", "trace"].includes(ctx.config.OPERATOR_LOG_LEVEL)) onFastPath?.(fast);

  function settle(req: FastifyRequest, admission: Admission, done: HookHandlerDoneFunction): void {
    if (admission.error) return done(admission.error);
    req.license = admission.license;
    done();
  }

  /**
   * onRequest: admit the poll (license, revocation, limits; see
   * services/poll-gate.ts), or take the admission the fast path decided.
   */
  function authenticate(req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    // Before the first load, the revocations are not known yet: a revoked
    // license would pass. The server listens that early for /healthz, and a
    // restarted cluster worker gets connections whatever /readyz says.
    if (!health.loaded) return done(new NotReadyError());
    const admission = handedOver(req.raw) ?? gate.admit(req.headers.authorization, req.ip);
    if (admission instanceof Promise) {
      admission.then((a) => settle(req, a, done), done);
      return;
    }
    // With an address, admit() always decides.
    settle(req, admission!, done);
  }

  // One logger for every poll, made once: fastify would otherwise build a
  // pino child (with redaction) per request just to log nothing at `warn`.
  // Lines logged for a poll carry `requestId` from the error handler instead.
  let pollLogger: FastifyBaseLogger | undefined;
  const childLoggerFactory = (logger: FastifyBaseLogger) =>
    (pollLogger ??= logger.child({ path: "operator" }, { level: ctx.config.OPERATOR_LOG_LEVEL }));

  function send(req: FastifyRequest, reply: FastifyReply, license: License, spec: SerializedSpec): FastifyReply {
    fleet.record(servedPoll(license, spec, req.headers["user-agent"]));
    reply.headers(pollHeaders(spec));
    // The database is unreachable: this is the last good answer, not a fresh one.
    if (health.databaseDown) {
      reply.header("x-chartroom-stale", "true");
      metrics.staleServes.inc();
    }
    if (matchesEtag(req.headers["if-none-match"], spec.etag)) return reply.code(304).send();
    return reply.type("application/json; charset=utf-8").send(spec.body);
  }

  function answer(req: FastifyRequest, reply: FastifyReply, license: License, spec: SerializedSpec | Promise<SerializedSpec>) {
    if (spec instanceof Promise) return spec.then((s) => send(req, reply, license, s));
    return send(req, reply, license, spec);
  }

  const security: { [name: string]: string[] }[] = [{ license: [] }, { licenseBearer: [] }];
  const shared = {
    tags: ["operator"],
    security,
    // Headers (If-None-Match) are described, not validated: a zod pass over
    // every header on every poll costs more than it protects.
  };

  /** What both poll routes share: license hook, quiet logging, constant headers. */
  const pollRoute = {
    onRequest: authenticate,
    // Thousands of clusters poll forever: no two log lines per poll.
    // Refusals and failures still log at warn and above; counts are in /metrics.
    logLevel: ctx.config.OPERATOR_LOG_LEVEL,
    childLoggerFactory,
    helmet: false as const,
  };

  app.get(
    CHANNEL_PATH,
    {
      ...pollRoute,
      schema: {
        ...shared,
        summary: "The spec of the license's channel",
        response: { 200: specResponse, 304: z.null().describe("Not modified (If-None-Match)"), ...errorResponses(401, 403, 404, 429, 503) },
        description: 'Auth: Basic base64("license:" + JWT), as the W&B operator sends it, or Bearer JWT. Headers: strong ETag (If-None-Match → 304), Cache-Control: no-cache, X-Chartroom-Stale: true when served from cache during a database outage.',
      },
    },
    (req, reply) => {
      const license = req.license!;
      return answer(req, reply, license, specs.channelSpec(license.channel, license.sub));
    },
  );

  app.get(
    "/api/v1/operator/channel/release/:versionId",
    {
      ...pollRoute,
      schema: {
        ...shared,
        summary: "A pinned release (the operator's _releaseId)",
        params: z.object({ versionId: z.string().min(1).max(128).describe("release id or semver version") }),
        response: { 200: specResponse, 304: z.null(), ...errorResponses(401, 403, 404, 429, 503) },
      },
    },
    (req, reply) => {
      const license = req.license!;
      const { versionId } = req.params as { versionId: string };
      return answer(req, reply, license, specs.pinnedSpec(license.channel, versionId, license.sub));
    },
  );
}
