// The README's shell blocks marked `<!-- readme-test -->` run top to bottom,
// as a new user runs them on a fresh clone: one bash session at the root of
// the repository, against a server started as `npm start` starts it (the
// compiled server, SQLite, the sample channels, development keys), with only
// PORT and DATA_DIR/DATABASE_URL pointing at this test's temporary
// directory. `chartroom` comes from the repository's bin/, as the README
// puts it on PATH. Every command must succeed, and what the README's
// comments promise is checked on the output and on the server afterwards.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { CHANNELS_DIR, ROOT, ensureBuilt, freePort, serverFiles, startServer } from "../process/fixtures/child-server.js";

t.before(ensureBuilt);

/** The README's blocks marked for this test, in order. */
function markedBlocks(readme: string): string[] {
  const blocks: string[] = [];
  const re = /<!-- readme-test -->\n```(?:sh|bash)\n([\s\S]*?)\n```/g;
  for (let m = re.exec(readme); m; m = re.exec(readme)) blocks.push(m[1]!);
  return blocks;
}

t.test("the README's marked blocks run in order on a fresh server", async (t) => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const blocks = markedBlocks(readme);
  t.ok(blocks.length >= 5, `${blocks.length} marked blocks`);
  t.match(readme.slice(0, 1200), /npm install && npm start/, "the first screen says how to start");
  t.match(readme.slice(0, 1200), /npm test/, "…and how to test");

  const files = serverFiles(t);
  const port = await freePort();
  // What `npm start` on a fresh clone has: no keys configured (development
  // keys under DATA_DIR/keys), SQLite under DATA_DIR, the sample channels.
  const env = { PORT: String(port), HOST: "127.0.0.1", DATA_DIR: files.dataDir, DATABASE_URL: `file:${files.dbFile}`, CHANNELS_DIR, LOG_LEVEL: "info" };
  const server = startServer(t, env);
  await server.ready(60_000);

  const script = ["set -eo pipefail", ...blocks.map((b, i) => `echo; echo "::block ${i}"\necho "::block ${i}" >&2\n${b}`), "echo; echo ::done"].join("\n");
  const clean: Record<string, string> = {};
  for (const k of ["PATH", "HOME", "TMPDIR"]) if (process.env[k] !== undefined) clean[k] = process.env[k]!;
  const run = spawnSync("bash", ["-c", script], { cwd: ROOT, env: { ...clean, ...env, NO_COLOR: "1" }, encoding: "utf8", timeout: 270_000 }); // under the file's 300 s (package.json): about 45 CLI starts, 1 s each on a quiet machine, 6 s on a loaded one
  const out = run.stdout;
  const byBlock = out.split(/^::block \d+\n/m).slice(1);
  const failedIn = (run.stderr.match(/::block (\d+)/g) ?? []).pop();
  t.equal(run.status, 0, `every command succeeds (stopped in ${failedIn}; stderr: ${run.stderr.slice(-1500)}; stdout: ${out.slice(-1500)})`);
  t.match(out, /::done/, "the script ran to its end");

  // Block 0, the tour.
  const tour = byBlock[0] ?? "";
  t.match(tour, /"metadata":\{[^}]*"channel":"stable"/, "curl: the operator's spec of stable");
  t.match(tour, /stable\s+0\.58\.1/, "channels: stable on 0.58.1");
  t.match(tour, /beta\s+0\.59\.2/, "channels: beta on 0.59.2");
  t.match(tour, /\/console\/#token=/, "console: a sign-in link");
  // Block 1, the health report.
  t.match(byBlock[1] ?? "", /"accepted":true/, "the report is accepted");
  // Block 2, release engineering.
  const eng = byBlock[2] ?? "";
  t.match(eng, /0\.61\.0/, "the release of examples/release.yaml is created and promoted");
  t.match(eng, /dry run/, "the dry runs say nothing was changed");

  // The server's state afterwards is what the README's comments say.
  const token = spawnSync(join(ROOT, "bin", "chartroom.js"), ["token", "--sub", "readme-test", "--role", "admin"], { cwd: ROOT, env: { ...clean, ...env }, encoding: "utf8" }).stdout.trim();
  const get = async (path: string) => {
    const res = await fetch(`${server.base}/api/v1/admin${path}`, { headers: { authorization: `Bearer ${token}` } });
    t.equal(res.status, 200, `GET ${path}`);
    return (await res.json()) as Record<string, unknown>;
  };
  const channels = (await get("/channels")).items as { name: string; release: { version: string } | null }[];
  const at = Object.fromEntries(channels.map((c) => [c.name, c.release?.version]));
  t.same(at, { beta: "0.59.2", stable: "0.58.1", unstable: "0.60.0" }, "after the yank, its channels were rolled back; the staged rollout on stable was aborted");
  const release = await get("/releases/0.61.0");
  t.equal(release.yanked, true, "0.61.0 is yanked");
  const values = await get("/licenses/acme/values");
  t.same(values.values, { app: { extraEnv: { GORILLA_DEBUG: "true" } }, reconcileFrequency: "15m" }, "acme's values are examples/hotfix.yaml");
  const licenses = (await get("/licenses")).items as { sub: string; revoked: boolean }[];
  t.ok(licenses.some((l) => l.sub === "acme" && l.revoked), "acme's license is revoked");
  const freeze = await get("/freeze");
  t.equal(freeze.frozen, false, "the freeze was lifted");
  const rollout = await get("/channels/stable/rollout");
  t.equal(rollout.state, "aborted", "the staged rollout of the rollouts block ended aborted");
});
