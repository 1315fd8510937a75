// The rate-limit hooks. The limits themselves are built in the composition
// root (src/services/rate-limits.ts, via src/context.ts); this plugin only
// adds the per-IP limit to every route registered after it, as a route
// hook (no per-request route lookup). A route opts out with
// `config: { ipLimit: false }`: the probes and /metrics (never limited) and
// the operator routes, whose poll gate (src/services/poll-gate.ts) applies
// the IP limit only where a request costs a signature check. Requests no
// route matches (404, no database, no signature) are not limited.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import fp from "fastify-plugin";
import { rateLimitedError, type Limiter, type Verdict } from "../services/rate-limits.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** false: this route is not limited per client IP by the global hook. */
    ipLimit?: boolean;
  }
}

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
  async function rateLimits(app, opts: { ip: Limiter | null }) {
    if (!opts.ip) return;
    const perIp = limitHook(opts.ip, (req) => req.ip);
    app.addHook("onRoute", (route) => {
      if (route.config?.ipLimit === false) return;
      route.onRequest = [perIp, ...[route.onRequest ?? []].flat()];
    });
  },
  { name: "rate-limits", dependencies: ["error-handler"] },
);
