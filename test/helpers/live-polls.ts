// Polls over a real socket, so that both halves of the poll pipeline answer
// them: the fastify route (src/routes/operator.ts) and the replay of its
// renderings (src/routes/poll-replay.ts), which app.inject() never reaches.
import type { AddressInfo } from "node:net";
import type { TestApp } from "./app.js";

export const PATH = "/api/v1/operator/channel";
export const basic = (token: string) => `Basic ${Buffer.from(`license:${token}`).toString("base64")}`;

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Listens on a free port; the base URL. */
export async function live(h: TestApp): Promise<string> {
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  return `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
}

export async function get(base: string, path = PATH, headers: Record<string, string> = {}, method = "GET"): Promise<Answer> {
  const res = await fetch(base + path, { method, headers: { "user-agent": "Go-http-client/1.1", ...headers } });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() };
}

/** A metric's value from the app's registry: `name{labels} value`. */
export async function metric(h: TestApp, pattern: RegExp): Promise<number> {
  const text = await h.ctx.metrics.registry.metrics();
  return Number(pattern.exec(text)?.[1] ?? 0);
}

/** Poll lines logged at info (OPERATOR_LOG_LEVEL=info, captureLogs): [rendered by fastify, replayed]. */
export function completedLines(h: TestApp): [number, number] {
  const lines = h.logs.filter((l) => l.includes('"request completed"') && l.includes('"path":"operator"'));
  const replayed = lines.filter((l) => l.includes('"replayed":true')).length;
  return [lines.length - replayed, replayed];
}
