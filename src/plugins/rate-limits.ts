// The rate-limit hooks. The limits themselves are built in the composition
// root (src/services/rate-limits.ts, via src/context.ts); this plugin only
// adds the per-IP limit, as the first onRequest hook of the context it is
// registered in (src/app.ts registers it around the docs and the admin API,
// before admin authentication, so a bad token costs a count too). Not in
// that context: the probes and /metrics (never limited), the operator routes
// (their poll gate, src/services/poll-gate.ts, applies the IP limit only
// where a request costs a signature check), and requests no route matches
// (no database, no signature).
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import fp from "fastify-plugin";
import { rateLimitedError, type Limiter, type Verdict } from "../services/rate-limits.js";

/** A callback-style hook applying `limiter` to the key a request maps to (no promise when in memory). */
export function limitHook(limiter: Limiter, keyOf: (req: FastifyRequest) => string) {
  return (req: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    const settle = (v: Verdict) => (v === true ? done() : done(rateLimitedError(v)));
    const v = limiter.take(keyOf(req));
    if (v instanceof Promise) v.then(settle, done);
    else settle(v);
  };
}

export default fp(
  async function ipRateLimit(app, opts: { ip: Limiter | null }) {
    if (opts.ip) app.addHook("onRequest", limitHook(opts.ip, (req) => req.ip));
  },
  { name: "ip-rate-limit", dependencies: ["error-handler"] },
);
