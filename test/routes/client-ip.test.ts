// clientIp (src/routes/client-ip.ts) says what fastify's request.ip says,
// for every kind of trustProxy value: the poll replay limits anonymous polls
// by it, the route by request.ip.
import Fastify, { type FastifyServerOptions } from "fastify";
import t from "tap";
import { clientIp } from "../../src/routes/client-ip.js";

const cases: [string, FastifyServerOptions["trustProxy"]][] = [
  ["false", false],
  ["true", true],
  // Not in fastify 5's types, but its runtime takes it (and trusts nothing).
  ["a hop count", 1 as unknown as FastifyServerOptions["trustProxy"]],
  ["a comma-separated list", "127.0.0.1, 10.0.0.0/8"],
  ["an array", ["loopback"]],
  ["a function", (addr: string) => addr === "127.0.0.1"],
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
