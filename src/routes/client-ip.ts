// The client address of a raw request, computed as fastify computes
// `request.ip` from its `trustProxy` option (the request module of fastify
// 5, with the same @fastify/proxy-addr): the poll replay (src/routes/poll-replay.ts)
// answers before fastify has built a request, and limits anonymous polls
// per client IP exactly as the route does. Give it the value src/app.ts
// gives fastify (trustProxyOption, below).
import type { IncomingMessage } from "node:http";
import proxyAddr from "@fastify/proxy-addr";
import type { FastifyServerOptions } from "fastify";
import type { Config } from "../config.js";

type TrustProxy = FastifyServerOptions["trustProxy"];
type Trust = (addr: string, i: number) => boolean;

/**
 * TRUST_PROXY as fastify's option. fastify ignores a bare hop count (it
 * cannot tell a proxy from a client that connects directly), so N hops is a
 * function: the N nearest addresses are proxies. That is right only where
 * nothing reaches Chartroom but through them (README, "Load balancer").
 */
export function trustProxyOption(tp: Config["TRUST_PROXY"]): TrustProxy {
  return typeof tp === "number" ? (_address: string, hop: number) => hop < tp : tp;
}

function trustFn(tp: Exclude<TrustProxy, false | undefined>): Trust {
  if (typeof tp === "function") return tp;
  if (tp === true) return () => true;
  // As fastify 5.12: a hop count alone cannot vouch for the peer, so nothing is trusted.
  if (typeof tp === "number") return () => false;
  if (typeof tp === "string") return proxyAddr.compile(tp.split(",").map((v) => v.trim()));
  return proxyAddr.compile(tp);
}

/** `req => the client's address`, as fastify's `request.ip` says it with this `trustProxy`. */
export function clientIp(trustProxy: TrustProxy): (req: IncomingMessage) => string {
  if (!trustProxy) return (req) => req.socket.remoteAddress ?? "";
  const trust = trustFn(trustProxy);
  return (req) => proxyAddr(req, trust);
}
