// The CLI's upgrade paths (docs/api.md §8) end to end against a real server
// on a port: `release required` marks and unmarks a stepping stone,
// `release show` says so, `resolve` prints the path, and `fleet --stuck` /
// `--on-path` list the licensees stuck or on a stone.
import t from "tap";
import { run } from "./fixtures/cli-harness.js";
import { testApp } from "../helpers/app.js";

t.test("release required, release show, resolve and fleet --on-path/--stuck", async (t) => {
  const h = await testApp(t);
  const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("release-engineer") };
  const old = h.license({ sub: "old-install" });
  t.equal((await h.poll(old)).json().metadata.version, "0.58.1");
  await h.ctx.fleet.flush(true);
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer")).statusCode, 200);
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.60.0" }, "release-engineer")).statusCode, 200);

  const usage = await run(["release", "required", "0.59.2"], env);
  t.equal(usage.code, 2, "--reason is required");
  const marked = await run(["release", "required", "0.59.2", "--reason", "schema migration"], env);
  t.equal(marked.code, 0, marked.stderr);
  t.equal(marked.stdout, "release 0.59.2 is required: installations below it pass through it first\n");
  const again = await run(["release", "required", "0.59.2", "--reason", "again"], env);
  t.match(again.stdout, /already; nothing changed/);
  const show = await run(["release", "show", "0.59.2"], env);
  t.match(show.stdout, /^required: +yes, since .* by release-engineer@example\.com: schema migration$/m);
  t.match(show.stdout, /^upgradeFrom: +any installed version$/m);

  t.equal((await h.poll(old)).json().metadata.version, "0.59.2", "the stone");
  await h.ctx.fleet.flush(true);
  const resolved = await run(["resolve", "old-install", "--channel", "stable"], env);
  t.equal(resolved.code, 0, resolved.stderr);
  t.match(resolved.stdout, /^path: +installed 0\.58\.1 → 0\.59\.2 \(required: "schema migration"\) → 0\.60\.0 \(stepping-stone\)$/m);
  t.match(resolved.stdout, /stepping-stone +installed 0\.58\.1/);

  const onPath = await run(["fleet", "--on-path"], env);
  t.equal(onPath.code, 0, onPath.stderr);
  t.match(onPath.stdout, /old-install .*installed 0\.58\.1 → 0\.59\.2 \(required: "schema migration"\) → 0\.60\.0 \[stepping-stone\]/);
  const stuck = await run(["fleet", "--stuck"], env);
  t.equal(stuck.stdout, "no licensee is stuck without an upgrade path\n");
  t.equal((await run(["fleet", "--stuck", "--on-path"], env)).code, 2, "the two filters exclude each other");

  const off = await run(["release", "required", "0.59.2", "--off", "--reason", "online migration"], env);
  t.equal(off.stdout, "release 0.59.2 is not required\n");
  t.equal((await h.poll(old)).json().metadata.version, "0.60.0", "unmarked: straight on");
  const viewer = await run(["release", "required", "0.59.2", "--reason", "x"], { ...env, CHARTROOM_TOKEN: h.adminToken("viewer") });
  t.equal(viewer.code, 1);
  t.match(viewer.stderr, /ROLE_REQUIRED/);
});
