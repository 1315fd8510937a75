// Load generator of the hourly-fleet scenario (bench/run.mjs): every
// licensee polls exactly once per pass, at a random instant of the window,
// as a fleet of operators with `reconcileFrequency: 1h` does within an hour
// (the hour compressed to the window). Each header of the file is sent once,
// at its own uniformly random time; the requests go out in time order over
// a keep-alive pool of `connections` sockets (a request due while all are
// busy waits for one: the lateness is reported, not hidden).
//
// Usage: node bench/hourly-client.mjs PORT HEADERS_FILE WINDOW_SECONDS CONNECTIONS SEED
// Prints one JSON line: sent, statuses, seconds, p50/p99/max latency, lateness.
import http from "node:http";
import { readFileSync } from "node:fs";

const [port, headersFile, windowArg, connectionsArg, seedArg] = process.argv.slice(2);
const windowMs = Number(windowArg) * 1000;
const connections = Number(connectionsArg);
const headers = readFileSync(headersFile, "utf8").split("\n").filter(Boolean);
const n = headers.length;

// A seeded PRNG (mulberry32), so a pass is reproducible from its seed.
let state = Number(seedArg) >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let x = state;
  x = Math.imul(x ^ (x >>> 15), x | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
}
// Each licensee's instant in the window; then sent in time order.
const at = new Float64Array(n);
for (let i = 0; i < n; i++) at[i] = random() * windowMs;
const order = Uint32Array.from({ length: n }, (_, i) => i).sort((a, b) => at[a] - at[b]);

const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const latencies = new Float64Array(n);
const statuses = {};
let maxLateMs = 0;
let errors = 0;

function send(i) {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = http.get(
      { host: "127.0.0.1", port: Number(port), path: "/api/v1/operator/channel", agent, headers: { authorization: headers[i], "user-agent": "Go-http-client/1.1" } },
      (res) => {
        res.resume();
        res.on("end", () => {
          latencies[i] = performance.now() - t0;
          statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
          resolve();
        });
      },
    );
    req.on("error", () => {
      errors++;
      latencies[i] = performance.now() - t0;
      resolve();
    });
  });
}

const start = performance.now();
let next = 0;
let inFlight = 0;
await new Promise((done) => {
  function pump() {
    const now = performance.now() - start;
    while (next < n && inFlight < connections && at[order[next]] <= now) {
      const i = order[next++];
      maxLateMs = Math.max(maxLateMs, now - at[i]);
      inFlight++;
      void send(i).then(() => {
        inFlight--;
        if (next === n && inFlight === 0) done();
        else pump();
      });
    }
    if (next < n && inFlight < connections) setTimeout(pump, Math.max(0, at[order[next]] - (performance.now() - start)));
  }
  pump();
});
const seconds = (performance.now() - start) / 1000;
agent.destroy();

const sorted = Float64Array.from(latencies).sort();
const q = (p) => sorted[Math.min(n - 1, Math.floor(p * n))];
process.stdout.write(
  JSON.stringify({ sent: n, statuses, errors, seconds, rps: n / seconds, p50ms: q(0.5), p99ms: q(0.99), maxMs: sorted[n - 1], maxLateMs, windowSeconds: windowMs / 1000, connections }) + "\n",
);
