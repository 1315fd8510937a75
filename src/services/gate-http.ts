// The HTTP calls of webhook and Prometheus gates (docs/api.md §9):
// node:http(s), a whole-request deadline, no redirects followed, at most
// 64 KiB of the answer read. With `denyPrivate` the connection's address is
// checked (src/services/outbound-url.ts), like a webhook delivery's
// (src/services/webhook-sender.ts). Never throws: a failure is the answer.
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { InternalAddressError, guardedLookup, isInternalAddress } from "./outbound-url.js";
import type { HttpAnswer } from "./gate-rules.js";

const MAX_BODY = 64 * 1024;

export interface GateCall {
  method: "GET" | "POST";
  url: string;
  body?: string;
  timeoutMs: number;
  denyPrivate: boolean;
}

export type GateHttp = (call: GateCall) => Promise<HttpAnswer>;

export const gateHttp: GateHttp = (call) =>
  new Promise<HttpAnswer>((resolve) => {
    let u: URL;
    try {
      u = new URL(call.url);
    } catch {
      return resolve({ error: "not a URL" });
    }
    if (call.denyPrivate && isInternalAddress(u.hostname)) return resolve({ error: new InternalAddressError(u.hostname, u.hostname).message });
    const request = u.protocol === "https:" ? httpsRequest : httpRequest;
    const headers: Record<string, string | number> = { accept: "application/json", "user-agent": "chartroom-gate" };
    if (call.body !== undefined) Object.assign(headers, { "content-type": "application/json", "content-length": Buffer.byteLength(call.body, "utf8") });
    const req = request(u, { method: call.method, headers, signal: AbortSignal.timeout(call.timeoutMs), ...(call.denyPrivate ? { lookup: guardedLookup } : {}) });
    req.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        if (size < MAX_BODY) chunks.push(c.subarray(0, MAX_BODY - size));
        size += c.length;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err: Error) => resolve({ error: err.name === "AbortError" ? `no answer within ${call.timeoutMs} ms` : err.message }));
    });
    req.on("error", (err: Error) => resolve({ error: err.name === "AbortError" ? `no answer within ${call.timeoutMs} ms` : err.message }));
    req.end(call.body);
  });
