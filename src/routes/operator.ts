// The operator endpoints (docs/api.md §1): what a W&B-style operator polls,
// and where an installation reports its health (§9, at the end).
// One pipeline renders every poll: these fastify routes. A poll of the
// channel route that fastify has already rendered the same way twice is
// replayed from that rendering (src/routes/poll-replay.ts), through the same
// admission, fleet record and metrics. The warm path is synchronous: a
// cached license verification, a Set lookup for revocation, an in-memory
// rate-limit counter (src/services/poll-gate.ts), a cached pre-serialized
// body (src/services/spec.ts) and its header block (pollHeaderBlocks below,
// with the body's signature, made once per serialized spec).
// No database, no signature check or signing, no JSON serialization, no
// promise per request (except while an upgrade path can change a licensee's
// answer: then its installation is read, src/services/spec-service.ts). Where the time goes and what it costs: docs/performance.md.
// With ANONYMOUS_CHANNEL set, a poll of the channel route without an
// Authorization header is admitted as the reserved licensee
// src/licensing/anonymous.ts names, limited per client IP; never on the
// pinned route.
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { z } from "zod";
import type { License } from "../licensing/verify-license.js";
import type { Context } from "../context.js";
import type { Poll } from "../services/fleet-recorder.js";
import type { Admission } from "../services/poll-gate.js";
import type { SerializedSpec } from "../services/spec.js";
import type { SpecSignatures } from "../services/spec-signatures.js";
import { REPORT_STATES, releaseRef, reportInputSchema, type ReportInput } from "../domain/schemas.js";
import { useStrictJsonBody } from "./admin/json-body.js";
import { errorResponses } from "./openapi-shared.js";
import { NotReadyError } from "../errors.js";
import { API_SECURITY_HEADERS } from "../plugins/security-headers.js";
import { requestObserver } from "../metrics.js";
import { pollReplay, type PollReplay, type PollStatus } from "./poll-replay.js";
import { clientIp, trustProxyOption } from "./client-ip.js";
import { isAnonymous } from "../licensing/anonymous.js";

const CHANNEL_PATH = "/api/v1/operator/channel";
const PINNED_PATH = "/api/v1/operator/channel/release/:versionId";
const REPORT_PATH = "/api/v1/operator/report";

/**
 * The largest report body: a message of 1024 characters each written as a
 * JSON \uXXXX escape (6 bytes), a release reference and the rest, with room
 * to spare. Larger is a 413 BODY_TOO_LARGE before it is parsed.
 */
export const REPORT_BODY_LIMIT = 8 * 1024;

const reportAccepted = z
  .object({
    accepted: z.literal(true),
    release: z.object({ id: z.string(), version: z.string() }),
    state: z.enum(REPORT_STATES),
    reportedAt: z.string().describe("when this server stored it (ISO 8601)"),
  })
  .describe("The report is stored as the licensee's latest on that release");

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

/** The headers of a poll's 200 and 304, in the OpenAPI (@fastify/swagger reads a response schema's `headers`). */
const pollAnswerHeaders = {
  ETag: { type: "string", description: "strong ETag over the body (If-None-Match with it answers 304)" },
  "Cache-Control": { type: "string", description: "no-cache" },
  "X-Chartroom-Signature": {
    type: "string",
    description:
      "JWS compact serialization with detached payload (RFC 7515 appendix F: header..signature) over the exact body bytes; " +
      "protected header alg EdDSA, kid (RFC 7638 thumbprint of the spec key, listed in /.well-known/jwks.json), iat. " +
      "On a 304: the signature of the body its ETag names.",
  },
  "X-Chartroom-Stale": { type: "string", description: "true when answered from memory during a database outage" },
};

declare module "fastify" {
  interface FastifyRequest {
    /** The verified license of an operator request (set by its onRequest hook). */
    license: License | null;
    /** The spec a poll was answered with (set when it is sent). */
    servedSpec: SerializedSpec | null;
  }
}

/** RFC 9110 If-None-Match: weak comparison, lists, and "*". */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag) return true;
  if (header.trim() === "*") return true;
  for (const part of header.split(",")) {
    const tag = part.trim().replace(/^W\//, "");
    if (tag === etag) return true;
  }
  return false;
}

/** 304 when If-None-Match names the spec's ETag, else 200: both poll paths ask this. */
function pollStatus(ifNoneMatch: string | undefined, spec: SerializedSpec): PollStatus {
  return matchesEtag(ifNoneMatch, spec.etag) ? 304 : 200;
}

/** What the fleet records of a poll that was answered with `spec` (an anonymous poll: its one row, no license). */
function servedPoll(license: License, anonymous: boolean, spec: SerializedSpec, userAgent: string | undefined): Poll {
  return {
    sub: license.sub,
    channel: license.channel,
    releaseId: spec.releaseId,
    releaseVersion: spec.version,
    jti: license.jti ?? null,
    licenseExp: anonymous ? null : license.exp,
    userAgent: userAgent === undefined ? null : userAgent.length > 256 ? userAgent.slice(0, 256) : userAgent,
  };
}

/**
 * The headers of a poll's answer (x-request-id aside), one frozen block per
 * serialized spec: its ETag and X-Chartroom-Signature, the detached JWS of
 * its body (docs/api.md §11). The spec is signed here, once, when its block
 * is first made: never per poll. A 304 answers with the block of the spec
 * its ETag names, so it carries that body's signature. The replay
 * (src/routes/poll-replay.ts) writes the headers the route rendered, so the
 * same signature. The signature is the one a bundle's spec.jws holds
 * (src/services/spec-signatures.ts signs each spec once for both).
 */
function pollHeaderBlocks(signatures: Pick<SpecSignatures, "of">): (spec: SerializedSpec) => Readonly<Record<string, string>> {
  const blocks = new WeakMap<SerializedSpec, Readonly<Record<string, string>>>();
  return (spec) => {
    let block = blocks.get(spec);
    if (!block) {
      block = Object.freeze({ ...API_SECURITY_HEADERS, etag: spec.etag, "cache-control": "no-cache", "x-chartroom-signature": signatures.of(spec) });
      blocks.set(spec, block);
    }
    return block;
  };
}

export interface OperatorRoutesOptions {
  ctx: Context;
  /** Receives the replay of the channel route's answers (the server's request listener uses it). */
  onReplay?: (replay: PollReplay) => void;
}

export async function operatorRoutes(app: FastifyInstance, { ctx, onReplay }: OperatorRoutesOptions) {
  const { gate, specs, fleet, health, metrics, reports } = ctx;
  const pollHeaders = pollHeaderBlocks(ctx.specSignatures);
  app.decorateRequest("license", null);
  app.decorateRequest("servedSpec", null);

  // One logger for every poll, made once: fastify would otherwise build a
  // pino child (with redaction) per request just to log nothing at `warn`.
  // Lines logged for a poll carry `requestId` from the error handler instead.
  const pollLogger = app.log.child({ path: "operator" }, { level: ctx.config.OPERATOR_LOG_LEVEL });
  const childLoggerFactory = () => pollLogger;

  /** The per-poll record both paths make: the fleet, and the anonymous polls' counter. */
  const served = (license: License, spec: SerializedSpec, userAgent: string | undefined) => {
    const anonymous = isAnonymous(license);
    if (anonymous) metrics.anonymousPolls.inc();
    fleet.record(servedPoll(license, anonymous, spec, userAgent));
  };
  const replay = pollReplay({
    path: CHANNEL_PATH,
    gate,
    specs,
    health,
    // The address fastify's request.ip gives the route: the same trustProxy (src/app.ts).
    clientIp: clientIp(trustProxyOption(ctx.config.TRUST_PROXY)),
    statusOf: pollStatus,
    served,
    observe: requestObserver(metrics, CHANNEL_PATH),
    log: pollLogger,
  });
  app.addHook("preClose", (done) => {
    replay.close();
    done();
  });
  onReplay?.(replay);

  function settle(req: FastifyRequest, admission: Admission, done: HookHandlerDoneFunction): void {
    if (admission.error) return done(admission.error);
    req.license = admission.license;
    done();
  }

  /**
   * onRequest: admit the poll (license, revocation, limits;
   * src/services/poll-gate.ts), or take the admission the replay decided
   * before it handed the request over. `anonymousAllowed`: the channel
   * route, where a request without Authorization may be anonymous (never a
   * pinned release).
   */
  function authenticate(anonymousAllowed: boolean) {
    return (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      // Before the first load, the revocations are not known yet: a revoked
      // license would pass. The server listens that early for /healthz, and a
      // restarted cluster worker gets connections whatever /readyz says.
      if (!health.loaded) return done(new NotReadyError());
      const admission = replay.handedOver(req.raw) ?? gate.admit(req.headers.authorization, req.ip, anonymousAllowed);
      if (admission instanceof Promise) admission.then((a) => settle(req, a, done), done);
      else settle(req, admission, done);
    };
  }

  /** onResponse of the channel route: what it rendered, for the replay. */
  function rendered(req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const spec = req.servedSpec;
    const status = reply.statusCode;
    // GET only: fastify's HEAD answers carry headers of their own (content-length: 0 on a 304).
    if (spec && req.method === "GET" && (status === 200 || status === 304) && !reply.hasHeader("x-chartroom-stale")) {
      replay.record(spec, status, isAnonymous(req.license!), reply.getHeaders());
    }
    done();
  }

  /**
   * Every poll fastify answers goes through here: the fleet record, the
   * stale marker and its metric, the headers, 304 or the body. Latency and
   * status are counted for every request by the route hooks of src/app.ts.
   */
  function send(req: FastifyRequest, reply: FastifyReply, license: License, spec: SerializedSpec): FastifyReply {
    served(license, spec, req.headers["user-agent"]);
    req.servedSpec = spec;
    reply.headers(pollHeaders(spec));
    // The database is unreachable: this is the last good answer, not a fresh one.
    if (health.databaseDown) {
      reply.header("x-chartroom-stale", "true");
      metrics.staleServes.inc();
    }
    if (pollStatus(req.headers["if-none-match"], spec) === 304) return reply.code(304).send();
    return reply.header("content-type", "application/json; charset=utf-8").send(spec.body);
  }

  function answer(req: FastifyRequest, reply: FastifyReply, spec: SerializedSpec | Promise<SerializedSpec>) {
    const license = req.license!;
    if (spec instanceof Promise) return spec.then((s) => send(req, reply, license, s));
    return send(req, reply, license, spec);
  }

  const security: { [name: string]: string[] }[] = [{ license: [] }, { licenseBearer: [] }];
  const anonymousChannel = ctx.config.ANONYMOUS_CHANNEL;
  const shared = {
    tags: ["operator"],
    // Headers (If-None-Match) are described, not validated: a zod pass over
    // every header on every poll costs more than it protects.
  };

  /** What both poll routes share: quiet logging, constant headers (and a license hook each). */
  const pollRoute = {
    // Thousands of clusters poll forever: no two log lines per poll.
    // Refusals and failures still log at warn and above; counts are in /metrics.
    logLevel: ctx.config.OPERATOR_LOG_LEVEL,
    childLoggerFactory,
  };

  app.get(
    CHANNEL_PATH,
    {
      ...pollRoute,
      onRequest: authenticate(true),
      onResponse: rendered,
      schema: {
        ...shared,
        // `{}`: no credentials at all, when this server answers anonymous polls.
        security: anonymousChannel ? [...security, {}] : security,
        summary: "The spec of the license's channel",
        response: { 200: specResponse.meta({ headers: pollAnswerHeaders }), 304: z.null().describe("Not modified (If-None-Match)").meta({ headers: pollAnswerHeaders }), ...errorResponses(401, 403, 404, 429, 503) },
        description:
          'Auth: Basic base64("license:" + JWT), as the W&B operator sends it, or Bearer JWT. ' +
          "No Authorization header: 401 LICENSE_MISSING, or, when the server sets ANONYMOUS_CHANNEL, that channel's spec (never per-license values; limited per client IP). " +
          "Present but bad credentials are always a 401. " +
          "Headers: strong ETag (If-None-Match → 304), Cache-Control: no-cache, " +
          "X-Chartroom-Signature: the body's detached JWS (EdDSA, kid in /.well-known/jwks.json; on a 304, of the body the ETag names), " +
          "X-Chartroom-Stale: true when served from cache during a database outage.",
      },
    },
    (req, reply) => answer(req, reply, specs.channelSpec(req.license!.channel, req.license!.sub)),
  );

  app.get(
    PINNED_PATH,
    {
      ...pollRoute,
      onRequest: authenticate(false),
      schema: {
        ...shared,
        security,
        summary: "A pinned release (the operator's _releaseId)",
        description: "Auth as for the channel route; a license is always required (no anonymous pinned release: 401 LICENSE_MISSING).",
        params: z.object({ versionId: releaseRef.describe("release id or semver version") }),
        response: { 200: specResponse.meta({ headers: pollAnswerHeaders }), 304: z.null().describe("Not modified (If-None-Match)").meta({ headers: pollAnswerHeaders }), ...errorResponses(401, 403, 404, 429, 503) },
      },
    },
    (req, reply) => {
      const { versionId } = req.params as { versionId: string };
      return answer(req, reply, specs.pinnedSpec(req.license!.channel, versionId, req.license!.sub));
    },
  );
  // Health reports (docs/api.md §9): admitted exactly like a pinned poll
  // (license, revocation, the licensee's limit it shares with its polls; no
  // anonymous reports), then a JSON body of at most REPORT_BODY_LIMIT bytes.
  // Its own encapsulated context: only application/json is parsed here
  // (fastify's text/plain parser is not), prototype keys named.
  await app.register(async (reporting) => {
    reporting.removeAllContentTypeParsers();
    useStrictJsonBody(reporting);
    reporting.post(
      REPORT_PATH,
      {
        // Quiet like the polls: every installation reports every few minutes.
        ...pollRoute,
        onRequest: authenticate(false),
        bodyLimit: REPORT_BODY_LIMIT,
        schema: {
          ...shared,
          security,
          summary: "A health report: how the installation of a release is doing",
          description:
            "Auth as for the channel route; a license is always required (no anonymous report: 401 LICENSE_MISSING). " +
            "Counts against the licensee's rate limit together with its polls. Content-Type: application/json only (else 415); " +
            `a body over ${REPORT_BODY_LIMIT} bytes is a 413. Unknown release: 404 RELEASE_NOT_FOUND.`,
          body: reportInputSchema,
          response: { 202: reportAccepted, ...errorResponses(400, 401, 403, 404, 413, 415, 429, 503) },
        },
      },
      async (req, reply) => {
        const license = req.license!;
        const receipt = await reports.report({ sub: license.sub, channel: license.channel, jti: license.jti }, req.body as ReportInput);
        return reply.code(202).headers(API_SECURITY_HEADERS).send({ accepted: true, release: receipt.release, state: receipt.state, reportedAt: receipt.reportedAt.toISOString() });
      },
    );
  });
}
