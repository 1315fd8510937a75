// The poll's cost on a channel where an upgrade path can apply
// (src/services/spec-service.ts): a licensee's installation is read only
// while its answer can depend on it; once this replica served it the
// target (or beyond) its poll is the shared cached answer again,
// synchronous, with no read; /resolve still decides from the installation.
import t from "tap";
import { testApp } from "../helpers/app.js";
import { specService } from "../../src/services/spec-service.js";
import type { InstallFacts } from "../../src/services/upgrade-path.js";

t.test("installations are read only while a path can change the answer", async (t) => {
  const h = await testApp(t);
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer")).statusCode, 200);
  t.equal((await h.admin("POST", "/releases/0.59.2/required", { required: true, reason: "schema migration" }, "release-engineer")).statusCode, 200);
  t.equal((await h.admin("POST", "/releases", { version: "0.61.0", chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.20.0" } }, "release-engineer")).statusCode, 201);
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.61.0" }, "release-engineer")).statusCode, 200);
  const target = (await h.ctx.store.releases.findByRef("0.61.0"))!;
  const old = (await h.ctx.store.releases.findByRef("0.58.1"))!;

  const reads: string[] = [];
  const served = new Map<string, { releaseId: string; releaseVersion: string }>();
  const installs = async (sub: string): Promise<InstallFacts | null> => {
    reads.push(sub);
    return sub === "old" ? { served: { id: old.id, version: old.version, since: 0, previous: null }, reports: [] } : null;
  };
  const specs = specService(h.ctx.store, { installs, recent: (sub) => served.get(sub) });

  const fresh = await specs.channelSpec("stable", "fresh");
  t.equal(fresh.version, "0.61.0", "a fresh install gets the target");
  t.same(reads, ["fresh"], "its installation was read");
  t.equal(specs.cachedChannelSpec("stable", "never-polled"), undefined, "no shared answer for a licensee this replica never answered");
  t.ok(specs.cachedChannelSpec("stable", "fresh"), "served the target once: the shared answer is there for its next poll");
  served.set("fresh", { releaseId: target.id, releaseVersion: target.version });
  const again = specs.channelSpec("stable", "fresh");
  t.notOk(again instanceof Promise, "served the target: the poll is synchronous again");
  t.equal((again as Awaited<typeof fresh>).etag, fresh.etag, "the same bytes and ETag");
  t.same(reads, ["fresh"], "no read of its installation");
  t.ok(specs.cachedChannelSpec("stable", "fresh"), "and the replay may answer it");

  t.equal((await specs.channelSpec("stable", "old")).version, "0.59.2", "installed 0.58.1: the stone");
  served.set("old", { releaseId: (await h.ctx.store.releases.findByRef("0.59.2"))!.id, releaseVersion: "0.59.2" });
  t.equal((await specs.channelSpec("stable", "old")).version, "0.59.2", "on the stone, below the target: still decided from its installation");
  t.same(reads, ["fresh", "old", "old"]);

  // An hourly poller: the recorder has forgotten it (no recent serve), the last path answer still says it got the target.
  const hourly = await specs.channelSpec("stable", "hourly");
  t.equal(hourly.version, "0.61.0");
  t.same(reads.slice(-1), ["hourly"], "its first poll read its installation");
  const next = specs.channelSpec("stable", "hourly");
  t.notOk(next instanceof Promise, "its next poll, with nothing in the recorder: synchronous, no read");
  t.equal(reads.filter((r) => r === "hourly").length, 1);
  specs.invalidate();
  t.equal((await specs.channelSpec("stable", "hourly")).version, "0.61.0", "after a catalog change (the channel read again)");
  t.equal(reads.filter((r) => r === "hourly").length, 1, "still no read: what it was served survives the change");

  const explained = await specs.explain("stable", "fresh");
  t.equal(explained.spec.etag, fresh.etag, "/resolve: the poll's ETag");
  t.equal(explained.path?.state, "fresh", "/resolve decides from the installation even after the shortcut");
});
