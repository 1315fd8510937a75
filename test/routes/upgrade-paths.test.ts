// Upgrade paths over HTTP on both databases (docs/api.md §8): a licensee
// last served 0.58.1 gets the required 0.59.2 while stable is at 0.61.0,
// and 0.61.0 after a healthy report on 0.59.2 (or after the soak); a fresh
// licensee gets 0.61.0 at once; a pin the installation cannot reach is a
// 403 naming the stone; /resolve, the fleet (?path=) and the gauge say so;
// a floor nothing meets is no-upgrade-path; two replicas agree.
import t, { type Test } from "tap";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { LightMyRequestResponse } from "fastify";
import { eachProvider, type Provider } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { assertError, createRelease } from "./admin/fixtures/admin-helpers.js";
import type { ResolveDto } from "../../src/routes/admin/dto/resolve.js";
import type { FleetDto } from "../../src/routes/admin/dto/fleet.js";

/** The version a poll of the channel (or of a pinned release) is answered with. */
async function served(h: TestApp, token: string, path?: string): Promise<string> {
  const res = await h.poll(token, path);
  if (res.statusCode !== 200) return `${res.statusCode} ${(res.json() as { code: string }).code}`;
  return (res.json() as { metadata: { version: string } }).metadata.version;
}

function report(h: TestApp, token: string, release: string, state: string): Promise<LightMyRequestResponse> {
  return h.app.inject({
    method: "POST",
    url: "/api/v1/operator/report",
    headers: { authorization: `Basic ${Buffer.from(`license:${token}`).toString("base64")}`, "content-type": "application/json" },
    payload: { release, state },
  });
}

async function resolveOf(h: TestApp, sub: string, channel = "stable"): Promise<ResolveDto> {
  const res = await h.admin("GET", `/resolve?sub=${encodeURIComponent(sub)}&channel=${channel}`, undefined, "viewer");
  if (res.statusCode !== 200) throw new Error(`resolve: ${res.statusCode} ${res.body}`);
  return res.json() as ResolveDto;
}

/** stable: 0.58.1 (seeded) → 0.59.2 → 0.61.0, with 0.59.2 marked required before the last move. */
async function stableWithARequiredStone(t: Test, h: TestApp): Promise<void> {
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.59.2", reason: "test" }, "release-engineer")).statusCode, 200, "stable → 0.59.2");
  const marked = await h.admin("POST", "/releases/0.59.2/required", { required: true, reason: "schema migration" }, "release-engineer");
  t.equal(marked.statusCode, 200, "0.59.2 marked required");
  t.match(marked.json(), { version: "0.59.2", required: true, requiredReason: "schema migration", requiredBy: "release-engineer@example.com", changed: true });
  t.equal((await h.admin("POST", "/releases/0.59.2/required", { required: true, reason: "again" }, "release-engineer")).json().changed, false, "marking it again changes nothing");
  await createRelease(t, h, "0.61.0");
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.61.0", reason: "test" }, "release-engineer")).statusCode, 200, "stable → 0.61.0");
}

await eachProvider(t, "a stepping stone, a healthy report, a fresh install, a pin, the fleet", async (t, provider: Provider) => {
  const h = await testApp(t, { provider });
  const old = h.license({ sub: "old-install" });
  const pinner = h.license({ sub: "pinner" });
  t.equal(await served(h, old), "0.58.1", "old-install polls at 0.58.1");
  t.equal(await served(h, pinner), "0.58.1", "pinner polls at 0.58.1");
  // Written to the fleet table, as after a minute: the path then reads it from the database.
  await h.ctx.fleet.flush(true);

  await stableWithARequiredStone(t, h);
  t.equal(await served(h, old), "0.59.2", "last served 0.58.1: the required 0.59.2 first");
  t.equal(await served(h, h.license({ sub: "brand-new" })), "0.61.0", "a fresh licensee gets 0.61.0 at once");
  t.equal(await served(h, old), "0.59.2", "held on the stone until a healthy report (or the soak)");

  const r = await resolveOf(h, "old-install");
  t.equal(r.release.version, "0.59.2", "/resolve: the stone");
  t.ok(r.reasons.some((x) => x.rule === "stepping-stone" && /0\.59\.2 is required \(schema migration\)/.test(x.detail)), "/resolve: the stepping-stone reason");
  t.equal(r.path?.text, 'installed 0.58.1 → 0.59.2 (required: "schema migration") → 0.61.0', "/resolve: the path in one line");
  t.equal(r.path?.state, "stepping-stone");
  t.equal(r.etag, (await h.poll(old)).headers.etag, "/resolve: the poll's ETag");

  // A pin of 0.61.0 cannot skip the stone; a pin of the stone can.
  await h.ctx.fleet.flush(true);
  const pinned = await h.poll(pinner, "/api/v1/operator/channel/release/0.61.0");
  assertError(t, pinned, 403, "UPGRADE_PATH_REQUIRED", undefined, "pin over the stone");
  t.match(pinned.json().message, /release 0\.61\.0 cannot be installed over 0\.58\.1 directly: install 0\.59\.2 first \(required: "schema migration"\)/);
  t.equal(await served(h, pinner, "/api/v1/operator/channel/release/0.59.2"), "0.59.2", "a pin of the stone is served");

  // The fleet: the stone is visible, and filterable.
  await h.ctx.fleet.flush(true);
  const onPath = (await h.admin("GET", "/fleet?path=stepping-stone", undefined, "viewer")).json() as FleetDto;
  t.same(onPath.items.map((i) => i.sub).sort(), ["old-install", "pinner"], "fleet ?path=stepping-stone");
  t.match(onPath.items.find((i) => i.sub === "old-install")?.path, { state: "stepping-stone", serve: { version: "0.59.2" }, installed: { version: "0.58.1", source: "served" } });
  const all = (await h.admin("GET", "/fleet", undefined, "viewer")).json() as FleetDto;
  t.equal(all.items.find((i) => i.sub === "brand-new")?.path?.state, "current", "the fresh licensee is on its target");
  const metrics = (await h.app.inject({ method: "GET", url: "/metrics" })).body;
  t.match(metrics, /chartroom_fleet_paths\{channel="stable",state="stepping-stone"\} 2/, "the gauge counts licensees on a stone");

  // A healthy report on the stone: on to 0.61.0, and the pin is fine now.
  t.equal((await report(h, old, "0.59.2", "healthy")).statusCode, 202, "healthy on 0.59.2");
  t.equal(await served(h, old), "0.61.0", "after a healthy report on the stone: 0.61.0");
  const after = await resolveOf(h, "old-install");
  t.equal(after.path?.state, "current", "served the target already: current");
  t.match(after.path?.installed, { version: "0.59.2", source: "report" });
  t.equal((await report(h, pinner, "0.59.2", "healthy")).statusCode, 202);
  t.equal(await served(h, pinner, "/api/v1/operator/channel/release/0.61.0"), "0.61.0", "the pin of 0.61.0 after the stone");

  // A failed report on a soaked stone holds it there (no soak without failure).
  const failing = h.license({ sub: "failing" });
  await h.ctx.fleet.flush(true);
  t.equal((await report(h, failing, "0.58.1", "healthy")).statusCode, 202);
  t.equal(await served(h, failing), "0.59.2", "installed 0.58.1 by report: the stone");
  t.equal((await report(h, failing, "0.59.2", "failed")).statusCode, 202);
  t.equal(await served(h, failing), "0.59.2", "failed on the stone: held there");
  t.match((await resolveOf(h, "failing")).reasons.find((x) => x.rule === "stepping-stone")?.detail, /reported failed on 0\.59\.2/);

  // Unmarking the stone: nobody is held any more.
  t.equal((await h.admin("POST", "/releases/0.59.2/required", { required: false, reason: "migration is online now" }, "release-engineer")).json().changed, true);
  t.equal(await served(h, failing), "0.61.0", "unmarked: straight to the target");
  const audit = (await h.admin("GET", "/audit?action=release.required", undefined, "viewer")).json() as { items: { after: { required: boolean } }[] };
  t.same(audit.items.map((i) => i.after.required), [false, true], "both changes are audited (the repeat is not)");

  // Roles and bad input of the route.
  assertError(t, await h.admin("POST", "/releases/0.59.2/required", { required: true, reason: "x" }, "viewer"), 403, "ROLE_REQUIRED");
  assertError(t, await h.admin("POST", "/releases/9.9.9/required", { required: true, reason: "x" }, "release-engineer"), 404, "RELEASE_NOT_FOUND");
  assertError(t, await h.admin("POST", "/releases/0.59.2/required", { required: "yes", reason: "x" }, "release-engineer"), 400, "VALIDATION_FAILED", "required");
  assertError(t, await h.admin("POST", "/releases/0.59.2/required", { required: true }, "release-engineer"), 400, "VALIDATION_FAILED", "reason");
});

await eachProvider(t, "an upgrade floor nothing meets: no-upgrade-path, listed as stuck", async (t, provider: Provider) => {
  const h = await testApp(t, { provider });
  const stuck = h.license({ sub: "stuck-install", channel: "unstable" });
  const start = await served(h, stuck);
  t.not(start, "", `polls unstable at ${start}`);
  await h.ctx.fleet.flush(true);
  // upgradeFrom is validated at creation, and immutable.
  assertError(t, await h.admin("POST", "/releases", { version: "0.70.0", chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.20.0" }, upgradeFrom: "not a range" }, "release-engineer"), 400, "VALIDATION_FAILED", "upgradeFrom");
  assertError(t, await h.admin("POST", "/releases", { version: "0.70.0", chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.20.0" }, upgradeFrom: ">=1.0.0 <0.5.0" }, "release-engineer"), 400, "VALIDATION_FAILED", "upgradeFrom");
  const floor = await createRelease(t, h, "0.70.0", { upgradeFrom: ">=0.69.0" });
  t.equal((await h.admin("GET", `/releases/${floor.id}`, undefined, "viewer")).json().upgradeFrom, ">=0.69.0", "the floor is stored");
  t.equal((await h.admin("POST", "/channels/unstable/promote", { release: "0.70.0", reason: "test" }, "release-engineer")).statusCode, 200);
  t.equal(await served(h, stuck), start, "nothing admits what it has: served it again");
  const r = await resolveOf(h, "stuck-install", "unstable");
  t.ok(r.reasons.some((x) => x.rule === "no-upgrade-path"), "/resolve says no-upgrade-path");
  t.equal(r.path?.state, "no-upgrade-path");
  t.equal(await served(h, h.license({ sub: "fresh", channel: "unstable" })), "0.70.0", "a fresh install gets the floor release");
  await h.ctx.fleet.flush(true);
  const listed = (await h.admin("GET", "/fleet?path=no-upgrade-path&limit=10", undefined, "viewer")).json() as FleetDto;
  t.same(listed.items.map((i) => i.sub), ["stuck-install"], "fleet ?path=no-upgrade-path");
  t.equal(listed.nextCursor, null);
  t.match((await h.app.inject({ method: "GET", url: "/metrics" })).body, /chartroom_fleet_paths\{channel="unstable",state="no-upgrade-path"\} 1/);
});

await eachProvider(t, "the soak moves a licensee on without a report; two replicas agree", async (t, provider: Provider) => {
  const a = await testApp(t, { provider, env: { STEPPING_STONE_SOAK: "2s" } });
  const b = await testApp(t, { provider, databaseUrl: a.url, seed: false, env: { STEPPING_STONE_SOAK: "2s", LICENSE_SIGNING_KEY_FILE: join(a.dataDir, "license-key.pem") } });
  const lic = a.license({ sub: "soaker" });
  t.equal(await served(a, lic), "0.58.1");
  await a.ctx.fleet.flush(true);
  await stableWithARequiredStone(t, a);
  // B learns of the catalog change within its state check.
  const seen = await eventually(async () => (await served(b, b.license({ sub: "probe" }))) === "0.61.0", { within: 5000 });
  t.ok(seen.ok, `replica B serves the promotion (${seen.summary})`);
  t.equal(await served(a, lic), "0.59.2", "A: the stone");
  t.equal(await served(b, lic), "0.59.2", "B, before A wrote what it served: the same stone");
  await a.ctx.fleet.flush(true);
  await b.ctx.fleet.flush(true);
  t.equal(await served(b, lic), "0.59.2", "B, after both wrote: still the stone");
  t.equal(await served(a, lic), "0.59.2", "A: still the stone");
  await sleep(2100);
  t.equal(await served(a, lic), "0.61.0", "A: after the soak, without a report, on to 0.61.0");
  t.equal(await served(b, lic), "0.61.0", "B agrees");
});
