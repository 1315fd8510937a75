// Reference server for bench/run.mjs: Node's own limit. A bare `node:http`
// server that answers every request with the exact bytes and headers
// Chartroom's operator endpoint answered (captured from a real answer by
// bench/run.mjs), a per-request X-Request-Id shaped like Chartroom's
// (src/request-id.ts), and 304 for a matching If-None-Match. No routing,
// no auth, no framework: what a poll cannot beat on this Node.
// usage: node bench/raw-node.mjs <port> <body file> <headers.json>
//   headers.json: {"ok": [name, value, ...], "notModified": [...], "etag": "..."}
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";

const [port, bodyFile, headersFile] = process.argv.slice(2);
const body = readFileSync(bodyFile);
const { ok, notModified, etag } = JSON.parse(readFileSync(headersFile, "utf8"));
const prefix = `${randomBytes(4).toString("hex")}-`;
let seq = 0;

const server = http.createServer((req, res) => {
  if (req.url === "/readyz") {
    res.writeHead(200, { "content-type": "application/json" });
    return res.end('{"status":"ready"}');
  }
  const notMod = req.headers["if-none-match"] === etag;
  const headers = (notMod ? notModified : ok).slice();
  headers.push("x-request-id", prefix + (++seq).toString(36));
  res.writeHead(notMod ? 304 : 200, headers);
  if (notMod) res.end();
  else res.end(body);
});
// What fastify sets on its servers (Chartroom's keep-alive behaviour).
server.keepAliveTimeout = 72_000;
server.listen(Number(port), "127.0.0.1");
