// Declarative files and upgrade paths (docs/api.md §8): a release file can
// declare `upgradeFrom` (immutable: a changed one is a conflict) and
// `required` with its reason (mutable: a changed one marks or unmarks it,
// audited; a file without `required` leaves it as it is).
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { eachProvider } from "../helpers/db.js";
import { CHANNELS_DIR, testApp } from "../helpers/app.js";

const actor = { sub: "test:apply" };

await eachProvider(t, "required and upgradeFrom in release files", async (t, provider) => {
  const h = await testApp(t, { provider, seed: false });
  const dir = join(t.testdir({}), "channels");
  cpSync(CHANNELS_DIR, dir, { recursive: true });
  const file = join(dir, "releases", "0.59.2.yaml");
  const original = readFileSync(file, "utf8");
  writeFileSync(file, `${original}\nupgradeFrom: ">=0.58.0"\nrequired: true\nrequiredReason: schema migration\n`);
  const first = await h.ctx.declarative.apply(dir, actor);
  t.ok(first.steps.some((s) => s.action === "create-release" && s.target === "0.59.2"));
  let stored = await h.ctx.store.releases.findByRef("0.59.2");
  t.match(stored, { required: true, requiredReason: "schema migration", requiredBy: "test:apply", upgradeFrom: ">=0.58.0" }, "created required, with its floor");
  t.same((await h.ctx.declarative.apply(dir, actor)).steps, [], "a second apply changes nothing");

  // required: false unmarks it (a step, audited); upgradeFrom cannot change.
  writeFileSync(file, `${original}\nupgradeFrom: ">=0.58.0"\nrequired: false\n`);
  const unmarked = await h.ctx.declarative.apply(dir, actor);
  t.same(unmarked.steps.map((s) => [s.action, s.target]), [["mark-required", "0.59.2"]]);
  stored = await h.ctx.store.releases.findByRef("0.59.2");
  t.equal(stored?.required, false);
  t.equal(stored?.requiredReason, "declared in releases/0.59.2.yaml", "the reason names the file when it gives none");
  const audit = await h.ctx.store.audit.list({ limit: 100 });
  t.equal(audit.items.filter((a) => a.action === "release.required").length, 2, "both audited");

  // A file without `required` leaves what a person set.
  t.equal((await h.admin("POST", "/releases/0.59.2/required", { required: true, reason: "by hand" }, "release-engineer")).statusCode, 200);
  writeFileSync(file, `${original}\nupgradeFrom: ">=0.58.0"\n`);
  t.same((await h.ctx.declarative.apply(dir, actor)).steps, [], "no required in the file: nothing to do");
  t.equal((await h.ctx.store.releases.findByRef("0.59.2"))?.requiredReason, "by hand");

  writeFileSync(file, `${original}\nupgradeFrom: ">=0.57.0"\n`);
  await t.rejects(h.ctx.declarative.apply(dir, actor), { code: "DECLARATION_CONFLICT", message: /upgradeFrom differs from stored release 0\.59\.2/ }, "upgradeFrom is immutable");
  writeFileSync(file, `${original}\nupgradeFrom: "nonsense"\n`);
  await t.rejects(h.ctx.declarative.apply(dir, actor), { code: "VALIDATION_FAILED" }, "a bad range is refused before anything is written");
});
