// TRUST_PROXY and the per-IP limit behind a proxy (issue 13). The proxy is
// a real HTTP proxy in this process that does what deploy/nginx/nginx.conf
// does: it appends the address it was connected from to the client's
// X-Forwarded-For ($proxy_add_x_forwarded_for). The clients are real too:
// sockets bound to 127.0.0.2 and 127.0.0.3, two addresses the proxy sees.
// A client that writes its own X-Forwarded-For (a new address per request)
// must still be limited, and two clients must not share one bucket.
import http from "node:http";
import type { AddressInfo } from "node:net";
import t, { type Test } from "tap";
import { testApp, type TestApp } from "../helpers/app.js";

const IP_LIMIT = 5;
const ATTACKER = "127.0.0.2";
const NEIGHBOUR = "127.0.0.3";

async function live(h: TestApp): Promise<number> {
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  return (h.app.server.address() as AddressInfo).port;
}

/** nginx's `proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for` in front of `target`. */
async function appendingProxy(t: Test, target: number): Promise<number> {
  const server = http.createServer((req, res) => {
    const seen = req.headers["x-forwarded-for"];
    const forwarded = [seen, req.socket.remoteAddress].filter(Boolean).join(", ");
    const upstream = http.request(
      { host: "127.0.0.1", port: target, method: req.method, path: req.url, headers: { ...req.headers, "x-forwarded-for": forwarded } },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on("error", () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return (server.address() as AddressInfo).port;
}

/** A GET from the client address `from` (a socket bound to it), with its own headers. */
function getFrom(from: string, port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path, localAddress: from, agent: false, headers: { "user-agent": "Go-http-client/1.1", ...headers } }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

/** `n` requests from `from`, each with a different made-up X-Forwarded-For. */
async function rotating(from: string, port: number, path: string, n: number, headers: (i: number) => Record<string, string> = () => ({})): Promise<number[]> {
  const codes: number[] = [];
  for (let i = 0; i < n; i++) codes.push(await getFrom(from, port, path, { "x-forwarded-for": `203.0.113.${i % 250}, 198.51.${i}.7`, ...headers(i) }));
  return codes;
}

const refusedAfter = (limit: number, n: number, ok: number) => [...Array<number>(limit).fill(ok), ...Array<number>(n - limit).fill(429)];
const basic = (token: string) => `Basic ${Buffer.from(`license:${token}`).toString("base64")}`;

for (const setting of ["1", "127.0.0.1", "127.0.0.1/32, 10.0.0.0/8"]) {
  t.test(`TRUST_PROXY=${setting} behind a proxy: a client rotating X-Forwarded-For is limited, its neighbour is not`, async (t) => {
    const h = await testApp(t, { env: { TRUST_PROXY: setting, RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT) } });
    const proxy = await appendingProxy(t, await live(h));

    const codes = await rotating(ATTACKER, proxy, "/openapi.json", IP_LIMIT + 3);
    t.same(codes, refusedAfter(IP_LIMIT, IP_LIMIT + 3, 200), `${IP_LIMIT} allowed, then 429 although every request claimed another address`);
    t.equal(await getFrom(NEIGHBOUR, proxy, "/openapi.json"), 200, "another client behind the same proxy has its own bucket");
    t.equal(await getFrom(NEIGHBOUR, proxy, "/api/v1/admin/channels", { authorization: `Bearer ${h.adminToken("viewer")}` }), 200, "and reaches the admin API");
    const license = h.license({ sub: "neighbour" });
    t.equal(await getFrom(NEIGHBOUR, proxy, "/api/v1/operator/channel", { authorization: basic(license) }), 200, "and a new licensee of its can poll");
  });
}

t.test("TRUST_PROXY=1: bad-license polls with rotated X-Forwarded-For count against the client's own address", async (t) => {
  const h = await testApp(t, { env: { TRUST_PROXY: "1", RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT) } });
  const proxy = await appendingProxy(t, await live(h));
  const codes = await rotating(ATTACKER, proxy, "/api/v1/operator/channel", IP_LIMIT + 2, (i) => ({ authorization: basic(`junk-${i}`) }));
  t.same(codes, refusedAfter(IP_LIMIT, IP_LIMIT + 2, 401), "each signature check counted, then 429");
  t.equal(await getFrom(NEIGHBOUR, proxy, "/api/v1/operator/channel", { authorization: basic(h.license({ sub: "new-licensee" })) }), 200, "a new licensee elsewhere is not locked out");
});

t.test("TRUST_PROXY=false behind a proxy: every client is the proxy, one bucket for all (why the deploy files set it)", async (t) => {
  const h = await testApp(t, { env: { TRUST_PROXY: "false", RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT) } });
  const proxy = await appendingProxy(t, await live(h));
  t.same(await rotating(ATTACKER, proxy, "/openapi.json", IP_LIMIT), refusedAfter(IP_LIMIT, IP_LIMIT, 200));
  t.equal(await getFrom(NEIGHBOUR, proxy, "/openapi.json"), 429, "the neighbour shares the proxy's bucket");
});

t.test("TRUST_PROXY=1 with no proxy in front: the socket's peer counts as the proxy (so use hops only where clients cannot connect directly)", async (t) => {
  const h = await testApp(t, { env: { TRUST_PROXY: "1", RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT) } });
  const port = await live(h);
  const codes = await rotating(ATTACKER, port, "/openapi.json", IP_LIMIT + 1);
  // Documented limit of a hop count: the rightmost forwarded address is believed.
  t.same(codes, Array<number>(IP_LIMIT + 1).fill(200), "a direct client choosing the last X-Forwarded-For entry is not limited (README: use CIDRs then)");
  const listed = await testApp(t, { env: { TRUST_PROXY: "10.0.0.0/8", RATE_LIMIT_IP_PER_MINUTE: String(IP_LIMIT) } });
  const direct = await live(listed);
  t.same(await rotating(ATTACKER, direct, "/openapi.json", IP_LIMIT + 1), refusedAfter(IP_LIMIT, IP_LIMIT + 1, 200), "with the proxies' CIDRs, a direct client's X-Forwarded-For is ignored");
});
