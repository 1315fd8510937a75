// Calibration server for bench/run.mjs: bare fastify 5 (the project's own
// dependency) answering GET /api/v1/operator/channel with a pre-serialized
// Buffer body, ETag / If-None-Match → 304 and Cache-Control like Chartroom;
// no auth, no hooks, no plugins, logger off. It shows what fastify itself
// costs on this machine, so the gap between it and Chartroom is Chartroom's.
// usage: node bench/bare-fastify.mjs <port> <body file> <etag>
import { readFileSync } from "node:fs";
import Fastify from "fastify";

const [port, bodyFile, etag] = process.argv.slice(2);
const body = readFileSync(bodyFile);
const app = Fastify({ logger: false });
app.get("/api/v1/operator/channel", (req, reply) => {
  reply.header("etag", etag).header("cache-control", "no-cache");
  if (req.headers["if-none-match"] === etag) return reply.code(304).send();
  return reply.type("application/json; charset=utf-8").send(body);
});
app.get("/readyz", (_req, reply) => reply.send({ status: "ready" }));
await app.listen({ port: Number(port), host: "127.0.0.1" });
