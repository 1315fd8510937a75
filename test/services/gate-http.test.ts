// The gates' HTTP calls (src/services/gate-http.ts) against node:http
// servers this test runs: the answer, a deadline, no redirects followed,
// OUTBOUND_DENY_PRIVATE, and never a throw.
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { gateHttp } from "../../src/services/gate-http.js";

async function serve(t: Test, handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

t.test("a POST with its JSON body, and the answer", async (t) => {
  let seen = { method: "", type: "", body: "" };
  const url = await serve(t, (req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      seen = { method: req.method ?? "", type: String(req.headers["content-type"]), body };
      res.writeHead(201).end('{"pass":true}');
    });
  });
  t.same(await gateHttp({ method: "POST", url, body: '{"a":1}', timeoutMs: 2000, denyPrivate: false }), { status: 201, body: '{"pass":true}' });
  t.same(seen, { method: "POST", type: "application/json", body: '{"a":1}' });
});

t.test("a redirect is an answer, not followed; a slow server is a timeout; an internal address with denyPrivate is refused", async (t) => {
  const redirect = await serve(t, (_req, res) => res.writeHead(302, { location: "http://example.com/" }).end());
  t.match(await gateHttp({ method: "GET", url: redirect, timeoutMs: 2000, denyPrivate: false }), { status: 302 });
  const slow = await serve(t, () => {});
  t.same(await gateHttp({ method: "GET", url: slow, timeoutMs: 100, denyPrivate: false }), { error: "no answer within 100 ms" });
  t.match(await gateHttp({ method: "GET", url: redirect, timeoutMs: 2000, denyPrivate: true }), { error: /127\.0\.0\.1 .*loopback, private or link-local/ });
  t.match(await gateHttp({ method: "GET", url: "http://127.0.0.1:1/", timeoutMs: 2000, denyPrivate: false }), { error: /ECONNREFUSED/ }, "connection refused: an error, not a throw");
});

t.test("at most 64 KiB of the answer is kept", async (t) => {
  const big = await serve(t, (_req, res) => res.writeHead(200).end("x".repeat(200_000)));
  const a = await gateHttp({ method: "GET", url: big, timeoutMs: 5000, denyPrivate: false });
  t.equal("body" in a ? a.body.length : -1, 64 * 1024, "exactly the first 64 KiB");
});
