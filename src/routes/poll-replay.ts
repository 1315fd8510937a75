// Replays the poll route's own answers. The fastify route
// (src/routes/operator.ts) is the only code that renders a poll: status,
// headers (its hooks', helmet-free security block, ETag, content type and
// length) and body. After it has rendered the same header set twice for a
// serialized spec and a status (200 or 304), that set is kept here, and a
// later poll for the same spec is answered by writing exactly those headers
// (with a fresh request id) and the spec's bytes to Node's response, without
// fastify's per-request objects and hook runner (docs/performance.md: the
// route alone answered about 0.6x of raw node:http, the replay 0.8-0.9x).
// What the answer says cannot differ from the route's by construction: it
// is the route's answer.
//
// A replayed poll goes through the same admission (src/services/poll-gate.ts),
// the same fleet record (`served`, from the route) and the same
// request-duration metric as a routed one (never a stale answer: during an
// outage every poll goes to the route, which marks it). Everything else goes to fastify:
// other routes and methods, query strings, a caller's X-Request-Id, a license
// not yet verified, a refusal (rendered by the error handler: the admission
// travels with the request, so nothing is counted twice), a spec not in the
// cache or never rendered, a database outage (the stale marker), shutdown.
// What a replay skips is fastify's per-request work: a hook added to the
// poll route for its side effects alone (tracing, say), with the same
// headers on every answer, runs only on the polls fastify renders. Such a
// hook belongs in `served` (src/routes/operator.ts), which both paths call.
// Renderings are kept per serialized spec, which licensees without
// overrides share: a hook whose headers depend on the licensee would be
// confirmed by two polls of one licensee and replayed to the others, so
// per-licensee headers belong in the spec (src/services/spec-service.ts).
// Anonymous polls (no Authorization header, ANONYMOUS_CHANNEL) get the
// channel's spec that licensees without values share, and are replayed
// too, from renderings of anonymous polls only: a header set confirmed by
// licensed polls is never replayed to an anonymous one, nor the reverse.
// Their admission is the gate's `admitAnonymous`, limited per client IP
// (computed as fastify's request.ip: src/routes/client-ip.ts) on every
// anonymous poll, replayed or routed.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import type { License } from "../licensing/verify-license.js";
import type { Admission, PollGate } from "../services/poll-gate.js";
import type { SerializedSpec } from "../services/spec.js";
import type { SpecService } from "../services/spec-service.js";
import { newRequestId } from "../request-id.js";
import { isAnonymous } from "../licensing/anonymous.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
/** Replayable statuses: the poll's answer when the license is good. */
export type PollStatus = 200 | 304;

/** Levels at which fastify logs a line per request. */
const VERBOSE = new Set(["info", "debug", "trace"]);

/** Headers fastify wrote that belong to one request, not to the answer. */
const PER_REQUEST = new Set(["x-request-id", "date", "connection", "keep-alive", "transfer-encoding"]);

type Seen = WeakMap<SerializedSpec, Partial<Record<PollStatus, { key: string; list?: string[] }>>>;

/**
 * The route's rendered header sets per spec, status and kind of poll
 * (licensed or anonymous): seen once (kept as a string to compare), then
 * confirmed (kept as a writeHead list).
 */
class Renderings {
  #licensed: Seen = new WeakMap();
  #anonymous: Seen = new WeakMap();

  /** Records a header set the route wrote for `spec` with `status`, for a licensed or an anonymous poll. */
  record(spec: SerializedSpec, status: PollStatus, anonymous: boolean, headers: Record<string, unknown>): void {
    const list: string[] = [];
    for (const [name, value] of Object.entries(headers)) {
      // Array-valued headers (set-cookie) or a per-request header: not ours to replay.
      if (PER_REQUEST.has(name)) continue;
      if (typeof value !== "string" && typeof value !== "number") return;
      list.push(name, String(value));
    }
    const key = list.join("\n");
    const seen = anonymous ? this.#anonymous : this.#licensed;
    let bySpec = seen.get(spec);
    if (!bySpec) seen.set(spec, (bySpec = {}));
    const prior = bySpec[status];
    // Confirmed when two renderings agree; a disagreement starts again.
    // The list ends with the request id's slot, filled in per answer.
    if (prior?.key === key) prior.list ??= [...list, "x-request-id", ""];
    else bySpec[status] = { key };
  }

  /** The confirmed header list for `spec`, `status` and the kind of poll (its last value: the request id's slot), if any. */
  get(spec: SerializedSpec, status: PollStatus, anonymous: boolean): string[] | undefined {
    return (anonymous ? this.#anonymous : this.#licensed).get(spec)?.[status]?.list;
  }
}

export interface PollReplayDeps {
  path: string;
  gate: Pick<PollGate, "admitCached" | "admitAnonymous">;
  specs: Pick<SpecService, "cachedChannelSpec" | "countHit">;
  health: { loaded: boolean; databaseDown: boolean };
  /** The route's own status decision (If-None-Match). */
  statusOf: (ifNoneMatch: string | undefined, spec: SerializedSpec) => PollStatus;
  /** The route's own per-poll record (fleet; the stale marker never applies here). */
  served: (license: License, spec: SerializedSpec, userAgent: string | undefined) => void;
  /** The route's request-duration observer. */
  observe: (method: string, status: number, elapsedMs: number) => void;
  /** The poll route's logger: at info, a line per answered poll. */
  log: FastifyBaseLogger;
  /** The client's address, as the route's request.ip (the per-IP limit of anonymous polls). */
  clientIp: (req: IncomingMessage) => string;
}

export function pollReplay({ path, gate, specs, health, statusOf, served, observe, log, clientIp }: PollReplayDeps) {
  const renderings = new Renderings();
  /** Admissions decided here for requests handed to fastify (read by the route's hook). */
  const admissions = new WeakMap<IncomingMessage, Admission>();
  let closing = false;

  function handOver(req: IncomingMessage, res: ServerResponse, admission: Admission, next: Handler): void {
    admissions.set(req, admission);
    next(req, res);
  }

  function answer(req: IncomingMessage, res: ServerResponse, admission: Admission, started: number, next: Handler): void {
    const license = admission.license;
    // After an await (a Redis-backed limit) the server may be closing or the database down.
    if (!license || closing || health.databaseDown) return handOver(req, res, admission, next);
    const spec = specs.cachedChannelSpec(license.channel, license.sub);
    if (!spec) return handOver(req, res, admission, next);
    const status = statusOf(req.headers["if-none-match"], spec);
    const rendered = renderings.get(spec, status, isAnonymous(license));
    if (!rendered) return handOver(req, res, admission, next);
    const id = newRequestId();
    // writeHead reads the list synchronously: the one shared list per
    // rendering takes this answer's request id in its last slot.
    rendered[rendered.length - 1] = id;
    res.writeHead(status, rendered);
    specs.countHit();
    served(license, spec, req.headers["user-agent"]);
    if (status === 304) res.end();
    else res.end(spec.body);
    const elapsedMs = performance.now() - started;
    observe("GET", status, elapsedMs);
    if (VERBOSE.has(log.level)) log.info({ reqId: id, res: { statusCode: status }, responseTime: elapsedMs, replayed: true }, "request completed");
  }

  /** Never a dropped request: an unexpected error before anything was written goes to fastify. */
  function answerOrFail(req: IncomingMessage, res: ServerResponse, admission: Admission, started: number, next: Handler): void {
    try {
      answer(req, res, admission, started, next);
    } catch (err) {
      if (!res.headersSent && !admissions.has(req)) handOver(req, res, { error: err as Error }, next);
      else res.destroy(err as Error);
    }
  }

  return {
    /** The server's request listener: replays a poll, or hands the request to `next` (fastify). */
    handle(req: IncomingMessage, res: ServerResponse, next: Handler): void {
      if (req.url !== path || req.method !== "GET" || closing || !health.loaded || health.databaseDown || req.headers["x-request-id"] !== undefined) {
        return next(req, res);
      }
      const started = performance.now();
      const header = req.headers.authorization;
      // No Authorization header: anonymous when the server allows it, else fastify's 401.
      const admission = header === undefined ? gate.admitAnonymous(clientIp(req)) : gate.admitCached(header);
      if (admission === null) return next(req, res);
      if (admission instanceof Promise) {
        admission.then(
          (a) => answerOrFail(req, res, a, started, next),
          (err: unknown) => handOver(req, res, { error: err as Error }, next),
        );
      } else {
        answerOrFail(req, res, admission, started, next);
      }
    },
    /** The admission decided for a request before it was handed to fastify, if any. */
    handedOver: (req: IncomingMessage): Admission | undefined => admissions.get(req),
    /** What the route rendered for a poll of `spec` (its onResponse hook). */
    record: (spec: SerializedSpec, status: PollStatus, anonymous: boolean, headers: Record<string, unknown>) => renderings.record(spec, status, anonymous, headers),
    /** From now on every request goes to fastify (it answers 503 while closing). */
    close(): void {
      closing = true;
    },
  };
}
export type PollReplay = ReturnType<typeof pollReplay>;
