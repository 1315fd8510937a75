// A real Prometheus for the Prometheus gate tests (docs/api.md §9): the
// `prometheus` binary (PROMETHEUS_BIN, else PATH; Debian's package
// `prometheus`, installed by .ci/run) started on a free port with a temp
// config and data dir, scraping a tiny node:http exporter the test
// controls every second. Where the binary is missing the tests are skipped
// LOUDLY, except in CI (CI=true), where that is a failure (like PostgreSQL,
// test/helpers/db.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Test } from "tap";
import { tempDir } from "./db.js";
import { findBinary, freePort, withBinary, type Binary } from "./binaries.js";

const PROMETHEUS: Binary = { file: "prometheus", env: "PROMETHEUS_BIN", what: "Prometheus", apt: "prometheus" };

/** The prometheus binary, or null. */
export function prometheusBinary(): string | null {
  return findBinary(PROMETHEUS);
}

/**
 * Runs `fn` with the binary, or skips loudly (fails under CI) without it.
 */
export async function withPrometheusBinary(t: Test, name: string, fn: (t: Test, bin: string) => Promise<void>): Promise<void> {
  await withBinary(t, PROMETHEUS, name, fn);
}


/** An exporter the test controls: `set(text)` changes what /metrics answers. */
export async function exporter(t: Test): Promise<{ target: string; set: (text: string) => void }> {
  let text = "";
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(text);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { target: `127.0.0.1:${(server.address() as AddressInfo).port}`, set: (s) => (text = s) };
}

/** Starts Prometheus scraping `target` every second; answers its base URL once it is ready. Stopped at teardown. */
export async function startPrometheus(t: Test, bin: string, target: string): Promise<string> {
  const dir = tempDir(t);
  const config = join(dir, "prometheus.yml");
  writeFileSync(config, `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: exporter\n    static_configs:\n      - targets: ["${target}"]\n`);
  const port = await freePort();
  const child: ChildProcess = spawn(bin, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr = (stderr + c.toString("utf8")).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${url}/-/ready`)).ok) return url;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`prometheus not ready within 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the instant query's first sample is `value` (scrapes are every second). */
export async function untilSample(url: string, query: string, value: number, withinMs = 30_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  let last = "";
  for (;;) {
    try {
      const res = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
      last = await res.text();
      const sample = (JSON.parse(last) as { data?: { result?: { value?: [number, string] }[] } }).data?.result?.[0]?.value?.[1];
      if (sample !== undefined && Number(sample) === value) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`${query} did not answer ${value} within ${withinMs} ms; last answer: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
