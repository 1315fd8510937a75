// clientIp (src/routes/client-ip.ts) says what fastify's request.ip says,
// for every kind of trustProxy value: the poll replay limits anonymous polls
// by it, the route by request.ip.
import Fastify, { type FastifyServerOptions } from "fastify";
import t from "tap";
import { clientIp, trustProxyOption } from "../../src/routes/client-ip.js";
import { configSchema } from "../../src/config.js";

const cases: [string, FastifyServerOptions["trustProxy"]][] = [
  ["false", false],
  ["true", true],
  // Not in fastify 5's types, but its runtime takes it (and trusts nothing).
  ["a hop count", 1 as unknown as FastifyServerOptions["trustProxy"]],
  ["a comma-separated list", "127.0.0.1, 10.0.0.0/8"],
  ["an array", ["loopback"]],
  ["a function", (addr: string) => addr === "127.0.0.1"],
  // What production passes: TRUST_PROXY as configured, through trustProxyOption (src/app.ts, src/routes/operator.ts).
  ...["0", "1", "2", "127.0.0.1,10.0.0.0/8", "loopback"].map(
    (v) => [`TRUST_PROXY=${v}`, trustProxyOption(configSchema.parse({ TRUST_PROXY: v }).TRUST_PROXY)] as [string, FastifyServerOptions["trustProxy"]],
  ),
];
const forwarded = ["198.51.100.7", "198.51.100.7, 10.1.2.3", "203.0.113.1, 198.51.100.7, 10.1.2.3", undefined];

for (const [name, trustProxy] of cases) {
  t.test(`trustProxy ${name}`, async (t) => {
    const app = Fastify({ trustProxy });
    const ours = clientIp(trustProxy);
    app.get("/", async (req) => ({ fastify: req.ip, ours: ours(req.raw) }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    t.teardown(() => app.close());
    const { port } = app.server.address() as { port: number };
    for (const xff of forwarded) {
      const res = await fetch(`http://127.0.0.1:${port}/`, { headers: xff ? { "x-forwarded-for": xff } : {} });
      const { fastify, ours: mine } = (await res.json()) as { fastify: string; ours: string };
      t.equal(mine, fastify, `X-Forwarded-For ${xff ?? "(none)"}: ${fastify}`);
    }
  });
}

t.test("TRUST_PROXY hop counts pick the address that many hops from the socket", async (t) => {
  for (const [hops, xff, expected] of [
    ["1", "198.51.100.7, 10.1.2.3", "10.1.2.3"],
    ["2", "198.51.100.7, 10.1.2.3", "198.51.100.7"],
    ["2", "203.0.113.1, 198.51.100.7, 10.1.2.3", "198.51.100.7"],
    ["0", "198.51.100.7", "127.0.0.1"],
  ] as const) {
    const trustProxy = trustProxyOption(configSchema.parse({ TRUST_PROXY: hops }).TRUST_PROXY);
    const app = Fastify({ trustProxy });
    const ours = clientIp(trustProxy);
    app.get("/", async (req) => ({ fastify: req.ip, ours: ours(req.raw) }));
    await app.listen({ port: 0, host: "127.0.0.1" });
    const { port } = app.server.address() as { port: number };
    const body = (await (await fetch(`http://127.0.0.1:${port}/`, { headers: { "x-forwarded-for": xff } })).json()) as { fastify: string; ours: string };
    await app.close();
    t.same(body, { fastify: expected, ours: expected }, `TRUST_PROXY=${hops}, X-Forwarded-For ${xff}: ${expected}`);
  }
});
