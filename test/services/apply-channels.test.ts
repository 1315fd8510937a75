import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { eachProvider } from "../helpers/db.js";
import { CHANNELS_DIR, testApp, type TestApp } from "../helpers/app.js";

const actor = { sub: "test:apply" };

async function counts(h: TestApp) {
  const s = h.ctx.store;
  const channels = await s.channels.list();
  const releases = await s.releases.all();
  const audit = await s.audit.list({ limit: 1000 });
  let events = 0;
  for (const c of channels) events += (await s.events.allOf(c.id)).length;
  return { channels: channels.length, releases: releases.length, audit: audit.items.length, events, at: channels.map((c) => `${c.name}:${c.releaseId}`).sort() };
}

function copyChannels(t: Parameters<Parameters<typeof eachProvider>[2]>[0]): string {
  const dir = join(t.testdir({}), "channels");
  cpSync(CHANNELS_DIR, dir, { recursive: true });
  return dir;
}

await eachProvider(t, "apply creates everything, then is idempotent", async (t, provider) => {
  const h = await testApp(t, { provider, seed: false });
  const first = await h.ctx.declarative.apply(CHANNELS_DIR, actor);
  t.equal(first.steps.filter((s) => s.action === "create-release").length, 3);
  t.equal(first.steps.filter((s) => s.action === "create-channel").length, 3);
  t.equal(first.steps.filter((s) => s.action === "move-channel").length, 3);
  const after = await counts(h);
  const second = await h.ctx.declarative.apply(CHANNELS_DIR, actor);
  t.same(second.steps, [], "second apply changes nothing");
  t.same(await counts(h), after, "database unchanged");
  t.equal(JSON.parse((await h.poll(h.license({ channel: "beta" }))).body).metadata.version, "0.59.2");
});

await eachProvider(t, "dry run prints the plan and writes nothing", async (t, provider) => {
  const h = await testApp(t, { provider, seed: false });
  const before = await counts(h);
  const plan = await h.ctx.declarative.apply(CHANNELS_DIR, actor, { dryRun: true });
  t.equal(plan.dryRun, true);
  t.equal(plan.steps.length, 9);
  t.match(plan.steps.find((s) => s.action === "move-channel" && s.target === "stable"), { file: "stable.yaml", detail: /to 0\.58\.1/ });
  t.same(await counts(h), before, "nothing written");
  const promoted = async () => (await h.ctx.metrics.promotions.get()).values.find((v) => v.labels.action === "promote")?.value ?? 0;
  t.equal(await promoted(), 0, "nor counted as promotions");
  const real = await h.ctx.declarative.apply(CHANNELS_DIR, actor);
  t.same(real.steps, plan.steps, "the real apply does exactly the plan");
  t.equal(await promoted(), 3, "its three moves are counted (chartroom_promotions_total)");
});

await eachProvider(t, "a file that contradicts a stored release fails whole, naming file and field", async (t, provider) => {
  const h = await testApp(t, { provider });
  const dir = copyChannels(t);
  // A new release and a channel move that would succeed on their own…
  writeFileSync(join(dir, "releases", "0.61.0.yaml"), "version: 0.61.0\nchart: {url: https://charts.wandb.ai, name: operator-wandb, version: 0.20.0}\n");
  writeFileSync(join(dir, "unstable.yaml"), readFileSync(join(dir, "unstable.yaml"), "utf8").replace("release: 0.60.0", "release: 0.61.0"));
  // …and a contradiction of a stored release.
  const file = join(dir, "releases", "0.59.2.yaml");
  writeFileSync(file, readFileSync(file, "utf8").replace("tag: 2.12.2", "tag: 2.12.3"));
  const before = await counts(h);
  const err = await h.ctx.declarative.apply(dir, actor).then(
    () => null,
    (e: { code?: string; field?: string; message: string }) => e,
  );
  t.equal(err?.code, "DECLARATION_CONFLICT");
  t.equal(err?.field, "releases/0.59.2.yaml: images");
  t.match(err?.message, /releases\/0\.59\.2\.yaml: images differs/);
  t.same(await counts(h), before, "nothing applied, not even the valid new release");
  t.equal(await h.ctx.store.releases.findByRef("0.61.0"), null);
});

await eachProvider(t, "a declared downgrade is refused under the promotion rules", async (t, provider) => {
  const h = await testApp(t, { provider });
  const dir = copyChannels(t);
  writeFileSync(join(dir, "unstable.yaml"), readFileSync(join(dir, "unstable.yaml"), "utf8").replace("release: 0.60.0", "release: 0.58.1"));
  const before = await counts(h);
  await t.rejects(h.ctx.declarative.apply(dir, actor), { code: "DOWNGRADE_REFUSED", field: "unstable.yaml: release" });
  t.same(await counts(h), before);
});

t.test("bad files are refused with the file and field named", async (t) => {
  const h = await testApp(t, { seed: false });
  const cases: [string, string, string, RegExp][] = [
    ["releases/1.0.0.yaml", "version: 1.0.0\nchart: {url: ftp://x, name: c, version: 1.0.0}\n", "releases/1.0.0.yaml: chart", /oci|https/],
    ["releases/1.0.1.yaml", "version: 1.0.2\nchart: {path: /x}\n", "releases/1.0.1.yaml: version", /file is named 1\.0\.1/],
    ["stable.yaml", "name: stable\nsurprise: 1\n", "stable.yaml: surprise", /is not a known field/],
    ["stable.yaml", "name: [unclosed\n", "stable.yaml", /not valid YAML/],
    ["beta.yaml", "name: beta\nrelease: 9.9.9\n", "beta.yaml: release", /neither stored nor declared/],
    ["unstable.yaml", "name: unstable\ndefaultValues:\n  __proto__:\n    polluted: true\n", "unstable.yaml: defaultValues.__proto__", /prototype key/],
  ];
  for (const [file, text, field, reason] of cases) {
    const dir = t.testdir({ releases: {} });
    writeFileSync(join(dir, file), text);
    const err = await h.ctx.declarative.apply(dir, actor).then(() => null, (e: { field?: string; reason?: string; message: string }) => e);
    t.ok(err, `${file} refused`);
    t.ok(err?.field?.startsWith(field), `${file}: field ${err?.field}`);
    t.match(`${err?.reason} ${err?.message}`, reason, `${file}: reason`);
  }
  t.same(await h.ctx.store.channels.list(), [], "nothing written");
});
