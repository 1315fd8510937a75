// One POST of a webhook delivery (src/services/webhook-dispatcher.ts):
// node:http(s), a whole-request deadline, no redirects followed (a 3xx is a
// failed attempt), the answer's body drained and ignored. With
// `denyPrivate` the connection's address is checked (src/services/outbound-url.ts).
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { InternalAddressError, guardedLookup, isInternalAddress } from "./outbound-url.js";

export interface SendOptions {
  timeoutMs: number;
  denyPrivate: boolean;
}

/** Sends `body`; answers the HTTP status, or throws why there was none. */
export type WebhookSender = (url: string, body: string, headers: Record<string, string>, opts: SendOptions) => Promise<number>;

export const postWebhook: WebhookSender = (url, body, headers, opts) =>
  new Promise<number>((resolve, reject) => {
    const u = new URL(url);
    if (opts.denyPrivate && isInternalAddress(u.hostname)) return reject(new InternalAddressError(u.hostname, u.hostname));
    const request = u.protocol === "https:" ? httpsRequest : httpRequest;
    const req = request(u, {
      method: "POST",
      headers: { ...headers, "content-length": Buffer.byteLength(body, "utf8") },
      signal: AbortSignal.timeout(opts.timeoutMs),
      ...(opts.denyPrivate ? { lookup: guardedLookup } : {}),
    });
    req.on("response", (res: IncomingMessage) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
      res.on("error", reject);
    });
    req.on("error", (err: Error) => reject(err.name === "AbortError" ? new Error(`no answer within ${opts.timeoutMs} ms`) : err));
    req.end(body);
  });
