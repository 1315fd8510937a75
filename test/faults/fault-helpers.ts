// Shared checks of the database fault tests: a request timed with a bound,
// the 503 an unavailable database must answer, readiness and the
// chartroom_database_up gauge as a probe or a load balancer sees them.
import type { LightMyRequestResponse } from "fastify";
import type { Test } from "tap";
import type { TestApp } from "../helpers/app.js";

/** Runs `request`, reports its latency (t.comment) and fails when it took longer than `boundMs`; a request that never answers fails at the bound. */
export async function timed(t: Test, what: string, boundMs: number, request: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse | undefined> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), boundMs + 1000)));
  const res = await Promise.race([request(), hung]);
  clearTimeout(timer);
  const ms = Math.round(performance.now() - started);
  t.comment(`${what}: ${res ? res.statusCode : "no answer"} in ${ms} ms (bound ${boundMs} ms)`);
  t.ok(res, `${what}: answered (no answer within ${boundMs + 1000} ms)`);
  t.ok(ms <= boundMs, `${what}: answered within ${boundMs} ms (took ${ms} ms)`);
  return res;
}

/** The answer of an unavailable database: 503 DATABASE_UNAVAILABLE with Retry-After, no stack. */
export function assertUnavailable(t: Test, res: LightMyRequestResponse | undefined, what: string): void {
  if (!res) return;
  t.equal(res.statusCode, 503, `${what}: 503 (${res.body.slice(0, 200)})`);
  t.match(res.json(), { statusCode: 503, code: "DATABASE_UNAVAILABLE" }, `${what}: code DATABASE_UNAVAILABLE`);
  t.match(res.headers["retry-after"], /^\d+$/, `${what}: Retry-After`);
  t.notMatch(res.body, /at .*\.(ts|js):\d+/, `${what}: no stack trace`);
}

export async function readyz(h: TestApp): Promise<{ status: number; reason?: string }> {
  const res = await h.app.inject({ method: "GET", url: "/readyz" });
  return { status: res.statusCode, ...(res.statusCode === 503 ? { reason: (res.json() as { reason: string }).reason } : {}) };
}

/** The value of chartroom_database_up. */
export async function databaseUp(h: TestApp): Promise<number> {
  const m = /^chartroom_database_up (\d+)/m.exec(await h.ctx.metrics.registry.metrics());
  return m ? Number(m[1]) : NaN;
}
