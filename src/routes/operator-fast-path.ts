// The operator poll outside fastify's request pipeline. Thousands of
// clusters poll forever, and the common answer is bytes already in memory:
// a license already verified (or verified now), a spec already serialized.
// For that case this handler writes the answer straight to Node's response,
// with the same status, headers and body as the fastify route (a test
// compares them); fastify's per-request objects, hooks and reply pipeline
// cost more than the answer itself (docs/performance.md).
//
// Anything else is handed to fastify unchanged: other routes and methods,
// query strings, a caller's X-Request-Id, a refusal (the error handler
// renders it), a spec not in the cache, a database outage (the stale
// marker), shutdown. A refusal decided here travels with the request
// (`handedOver`), so fastify neither counts nor checks it twice.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FleetRecorder, Poll } from "../services/fleet-recorder.js";
import type { License } from "../licensing/verify-license.js";
import type { Admission, PollGate } from "../services/poll-gate.js";
import type { SerializedSpec } from "../services/spec.js";
import type { SpecService } from "../services/spec-service.js";
import { newRequestId } from "../request-id.js";
import { API_SECURITY_HEADERS } from "../plugins/security-headers.js";

export const CHANNEL_PATH = "/api/v1/operator/channel";
const HANDED_OVER = Symbol("chartroom.admission");

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
type WithAdmission = IncomingMessage & { [HANDED_OVER]?: Admission };

/** The admission the fast path decided before handing a request to fastify, if any. */
export function handedOver(req: IncomingMessage): Admission | undefined {
  return (req as WithAdmission)[HANDED_OVER];
}

/** RFC 9110 If-None-Match: weak comparison, lists, and "*". */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header === etag) return true;
  if (header.trim() === "*") return true;
  for (const part of header.split(",")) {
    const tag = part.trim().replace(/^W\//, "");
    if (tag === etag) return true;
  }
  return false;
}

/** What the fleet records of a poll that was answered with `spec`. */
export function servedPoll(license: License, spec: SerializedSpec, userAgent: string | undefined): Poll {
  return {
    sub: license.sub,
    channel: license.channel,
    releaseId: spec.releaseId,
    releaseVersion: spec.version,
    jti: license.jti ?? null,
    licenseExp: license.exp,
    userAgent: userAgent === undefined ? null : userAgent.length > 256 ? userAgent.slice(0, 256) : userAgent,
  };
}

/** The headers of a poll's answer, as both paths send them (x-request-id aside). */
export function pollHeaders(spec: SerializedSpec): Record<string, string> {
  return { ...API_SECURITY_HEADERS, etag: spec.etag, "cache-control": "no-cache" };
}

/** Header lists for writeHead, built once per serialized spec. */
const headerLists = new WeakMap<SerializedSpec, { ok: string[]; notModified: string[] }>();
function headerListsOf(spec: SerializedSpec) {
  let lists = headerLists.get(spec);
  if (!lists) {
    const common = Object.entries(pollHeaders(spec)).flat();
    lists = {
      ok: [...common, "content-type", "application/json; charset=utf-8", "content-length", String(spec.body.length)],
      notModified: common,
    };
    headerLists.set(spec, lists);
  }
  return lists;
}

export interface FastPathDeps {
  gate: PollGate;
  specs: Pick<SpecService, "channelSpec">;
  fleet: Pick<FleetRecorder, "record">;
  health: { loaded: boolean; databaseDown: boolean };
  /** Behind a trusted proxy the client's address is fastify's to work out. */
  trustProxy: boolean;
}

export function operatorFastPath({ gate, specs, fleet, health, trustProxy }: FastPathDeps) {
  let closing = false;
  /** Answers by status, for /metrics (these bypass the request histogram). */
  const answered = { 200: 0, 304: 0 };

  /** Requests already given to fastify: an error after that must not give them twice. */
  const givenToFastify = new WeakSet<IncomingMessage>();

  function handOver(req: IncomingMessage, res: ServerResponse, admission: Admission | undefined, next: Handler): void {
    if (admission) (req as WithAdmission)[HANDED_OVER] = admission;
    givenToFastify.add(req);
    next(req, res);
  }

  function answer(req: IncomingMessage, res: ServerResponse, admission: Admission, next: Handler): void {
    const license = admission.license;
    // After an await (a Redis-backed limit) the server may be closing or the
    // database down: fastify then answers (503, or the stale marker).
    if (!license || closing || health.databaseDown) return handOver(req, res, admission, next);
    let spec: SerializedSpec | Promise<SerializedSpec>;
    try {
      spec = specs.channelSpec(license.channel, license.sub);
    } catch {
      return handOver(req, res, admission, next); // a cached 403/404: fastify renders it
    }
    if (spec instanceof Promise) {
      // Not cached (just invalidated): fastify waits for the same load.
      spec.catch(() => {});
      return handOver(req, res, admission, next);
    }
    fleet.record(servedPoll(license, spec, req.headers["user-agent"]));
    const lists = headerListsOf(spec);
    const status = matchesEtag(req.headers["if-none-match"], spec.etag) ? 304 : 200;
    const headers = (status === 304 ? lists.notModified : lists.ok).slice();
    headers.push("x-request-id", newRequestId());
    res.writeHead(status, headers);
    if (status === 304) res.end();
    else res.end(spec.body);
    answered[status]++;
  }

  /** The server's request listener: answers a poll from memory, or hands it to `next` (fastify). */
  function handle(req: IncomingMessage, res: ServerResponse, next: Handler): void {
    // Not a poll this path answers: straight to fastify, no bookkeeping.
    if (req.url !== CHANNEL_PATH || req.method !== "GET" || closing || !health.loaded || health.databaseDown || req.headers["x-request-id"] !== undefined) {
      return next(req, res);
    }
    try {
      handlePoll(req, res, next);
    } catch (err) {
      failed(req, res, next, err);
    }
  }

  /**
   * Never a dropped request: an unexpected error goes to fastify, which
   * answers and logs, unless fastify has the request already or an answer
   * was started; then the connection is closed.
   */
  function failed(req: IncomingMessage, res: ServerResponse, next: Handler, err: unknown): void {
    if (!res.headersSent && !givenToFastify.has(req)) handOver(req, res, undefined, next);
    else res.destroy(err as Error);
  }

  function handlePoll(req: IncomingMessage, res: ServerResponse, next: Handler): void {
    const admission = gate.admit(req.headers.authorization, trustProxy ? null : (req.socket.remoteAddress ?? null));
    if (admission === null) return handOver(req, res, undefined, next);
    if (admission instanceof Promise) {
      admission
        .then((a) => answer(req, res, a, next))
        .catch((err: unknown) => failed(req, res, next, err));
      return;
    }
    answer(req, res, admission, next);
  }

  return {
    handle,
    /** From now on every request goes to fastify (it answers 503 while closing). */
    close(): void {
      closing = true;
    },
    stats: () => answered,
  };
}
export type OperatorFastPath = ReturnType<typeof operatorFastPath>;
