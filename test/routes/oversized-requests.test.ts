// Requests the framework refuses before any route (issue 13): a path
// parameter over fastify's maxParamLength (414), headers over the server's
// MAX_HEADER_BYTES (431), bytes that are not HTTP (400). Each answers the
// standard JSON error body with the security headers and a request id, over
// a real socket (inject() has no HTTP parser). A Basic header whose license
// is over the contract's 8 KiB but within MAX_HEADER_BYTES reaches the
// license check and is its 401 LICENSE_TOO_LARGE.
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { MAX_HEADER_BYTES } from "../../src/app.js";
import { testApp, type TestApp } from "../helpers/app.js";

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

async function live(h: TestApp): Promise<number> {
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  return (h.app.server.address() as AddressInfo).port;
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, agent: false, headers: { "user-agent": "Go-http-client/1.1", ...headers } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Raw bytes on a fresh connection; the whole answer once the server closes it. */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, "127.0.0.1", () => s.write(bytes));
    let text = "";
    s.setEncoding("utf8");
    s.on("data", (c: string) => (text += c));
    s.on("end", () => resolve(text));
    s.on("error", reject);
  });
}

const basic = (token: string) => `Basic ${Buffer.from(`license:${token}`).toString("base64")}`;
/** A JWT-shaped token of `bytes` bytes (never verified: it is too large first). */
const bigToken = (bytes: number) => `eyJhbGciOiJFUzI1NiJ9.${"A".repeat(bytes - 43)}.${"B".repeat(20)}`;

function assertStandardError(t: Test, a: Answer, status: number, code: string, what: string): void {
  t.equal(a.status, status, `${what}: ${status}`);
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(a.body) as Record<string, unknown>;
  } catch {
    t.fail(`${what}: the body is JSON (got ${a.body.slice(0, 80)})`);
  }
  t.same(Object.keys(body).sort(), ["code", "error", "message", "statusCode"], `${what}: the standard error body`);
  t.equal(body.statusCode, status);
  t.equal(body.code, code, `${what}: code ${code}`);
  t.ok(String(body.message).length < 200, `${what}: a short message (the oversized input is not echoed)`);
  t.match(a.headers["content-type"], /^application\/json/, `${what}: JSON`);
  t.equal(a.headers["x-content-type-options"], "nosniff", `${what}: security headers`);
  t.equal(a.headers["content-security-policy"], "default-src 'none'; frame-ancestors 'none'");
  t.match(a.headers["x-request-id"], /^[\w.:-]+$/, `${what}: a request id`);
}

t.test("a path parameter over maxParamLength: 414 URI_TOO_LONG, well-formed, on both APIs", async (t) => {
  const h = await testApp(t);
  const port = await live(h);
  const long = "a".repeat(600);
  const poll = await get(port, `/api/v1/operator/channel/release/${long}`, { authorization: basic(h.license()), "x-request-id": "trace-414" });
  assertStandardError(t, poll, 414, "URI_TOO_LONG", "operator path");
  t.equal(poll.headers["x-request-id"], "trace-414", "the caller's request id is echoed");
  const admin = await get(port, `/api/v1/admin/channels/${long}`, { authorization: `Bearer ${h.adminToken("viewer")}` });
  assertStandardError(t, admin, 414, "URI_TOO_LONG", "admin path");
  t.equal((await get(port, "/api/v1/operator/channel", { authorization: basic(h.license()) })).status, 200, "the server serves on");
});

t.test("a Basic header carrying a license over 8 KiB is the contract's 401 LICENSE_TOO_LARGE, up to the header bound", async (t) => {
  const h = await testApp(t);
  const port = await live(h);
  for (const kib of [9, 12, 16, 20]) {
    const a = await get(port, "/api/v1/operator/channel", { authorization: basic(bigToken(kib * 1024)) });
    assertStandardError(t, a, 401, "LICENSE_TOO_LARGE", `a ${kib} KiB license (a ${(basic(bigToken(kib * 1024)).length / 1024).toFixed(1)} KiB header)`);
    t.equal(a.headers["www-authenticate"], 'Basic realm="chartroom"', "with the challenge");
  }
  const bearer = await get(port, "/api/v1/operator/channel", { authorization: `Bearer ${bigToken(20 * 1024)}` });
  assertStandardError(t, bearer, 401, "LICENSE_TOO_LARGE", "a 20 KiB Bearer license");
});

t.test(`headers over ${MAX_HEADER_BYTES / 1024} KiB: 431 HEADERS_TOO_LARGE, well-formed, the connection closed cleanly`, async (t) => {
  const h = await testApp(t, { captureLogs: true });
  const port = await live(h);
  const big = await get(port, "/api/v1/operator/channel", { authorization: basic(bigToken(MAX_HEADER_BYTES)) });
  assertStandardError(t, big, 431, "HEADERS_TOO_LARGE", "a license header beyond the bound");
  t.equal(big.headers.connection, "close", "Connection: close");
  const cookie = await get(port, "/openapi.json", { cookie: "x".repeat(MAX_HEADER_BYTES + 1024) });
  assertStandardError(t, cookie, 431, "HEADERS_TOO_LARGE", "any header beyond the bound");
  t.ok(h.logs.some((l) => l.includes('"code":"HEADERS_TOO_LARGE"') && l.includes("request refused by the HTTP parser")), "logged with its code and request id");

  const garbage = await raw(port, "NOT HTTP AT ALL\r\n\r\n");
  t.match(garbage, /^HTTP\/1\.1 400 Bad Request\r\n/, "bytes that are not HTTP: 400");
  t.match(garbage, /\r\nx-content-type-options: nosniff\r\n/i, "with the security headers");
  t.match(garbage, /"code":"BAD_REQUEST"/, "and the standard body");
  t.equal((await get(port, "/api/v1/operator/channel", { authorization: basic(h.license()) })).status, 200, "the server serves on");
});
