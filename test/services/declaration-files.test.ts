// Reading a declarative channels directory safely (src/services/declaration-files.ts):
// nothing outside DIR, only regular files, limits checked before reading.
// Each refusal goes through apply and leaves the database untouched.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, renameSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { CHANNELS_DIR, testApp, type TestApp } from "../helpers/app.js";
import { DECLARATION_LIMITS, findDeclarationFiles } from "../../src/services/declaration-files.js";
import { readDeclarations } from "../../src/services/apply-channels.js";

const actor = { sub: "test:apply" };

/** A copy of channels/ and, beside it (outside it), a directory of files apply must never read. */
function layout(t: Test): { dir: string; outside: string } {
  const root = t.testdir({});
  const dir = join(root, "channels");
  cpSync(CHANNELS_DIR, dir, { recursive: true });
  const outside = join(root, "outside");
  mkdirSync(join(outside, "releases"), { recursive: true });
  // Valid declarations: followed, they would be applied.
  writeFileSync(join(outside, "evil.yaml"), "name: evil\ndescription: from outside\n");
  writeFileSync(join(outside, "releases", "6.6.6.yaml"), "version: 6.6.6\nchart: {path: /etc}\n");
  return { dir, outside };
}

async function refused(t: Test, h: TestApp, dir: string) {
  const err = await h.ctx.declarative.apply(dir, actor).then(
    () => undefined,
    (e: { code?: string; field?: string; message: string }) => e,
  );
  t.ok(err, "apply refused");
  t.equal(err?.code, "VALIDATION_FAILED");
  t.same(await h.ctx.store.channels.list(), [], "nothing written: no channel");
  t.same((await h.ctx.store.releases.list({ limit: 10 })).items, [], "nothing written: no release");
  return err!;
}

t.test("a symbolic link out of DIR is refused, naming the file and its target", async (t) => {
  const h = await testApp(t, { seed: false });

  const file = layout(t);
  symlinkSync(join(file.outside, "evil.yaml"), join(file.dir, "evil.yaml"));
  const e1 = await refused(t, h, file.dir);
  t.equal(e1.field, "evil.yaml");
  t.match(e1.message, `evil.yaml: is a symbolic link to ${join(file.outside, "evil.yaml")}, outside the directory`);

  // A relative link climbing out is the same.
  const rel = layout(t);
  symlinkSync("../outside/evil.yaml", join(rel.dir, "evil.yaml"));
  t.equal((await refused(t, h, rel.dir)).field, "evil.yaml");

  // releases/ itself a link out of DIR.
  const dirLink = layout(t);
  execFileSync("rm", ["-r", join(dirLink.dir, "releases")]);
  symlinkSync(join(dirLink.outside, "releases"), join(dirLink.dir, "releases"));
  const e2 = await refused(t, h, dirLink.dir);
  t.equal(e2.field, "releases");
  t.match(e2.message, /releases: is a symbolic link to .*outside.*releases, outside the directory/);

  // A file in releases/ linking out.
  const inRel = layout(t);
  symlinkSync(join(inRel.outside, "releases", "6.6.6.yaml"), join(inRel.dir, "releases", "6.6.6.yaml"));
  t.equal((await refused(t, h, inRel.dir)).field, "releases/6.6.6.yaml");

  // A link to nowhere.
  const dangling = layout(t);
  symlinkSync(join(dangling.outside, "gone.yaml"), join(dangling.dir, "gone.yaml"));
  const e3 = await refused(t, h, dangling.dir);
  t.equal(e3.field, "gone.yaml");
  t.match(e3.message, /symbolic link whose target does not exist/);
});

t.test("symbolic links inside DIR are followed", async (t) => {
  const h = await testApp(t, { seed: false });
  const { dir } = layout(t);
  // stable.yaml kept in a subdirectory apply does not scan, linked from where it does.
  mkdirSync(join(dir, "shared"));
  renameSync(join(dir, "stable.yaml"), join(dir, "shared", "stable.yaml"));
  symlinkSync("shared/stable.yaml", join(dir, "stable.yaml"));
  // DIR itself may be a link (e.g. a checkout's current version).
  const linkedDir = join(dir, "..", "current");
  symlinkSync(dir, linkedDir);
  const applied = await h.ctx.declarative.apply(linkedDir, actor);
  t.ok(applied.steps.some((s) => s.action === "create-channel" && s.target === "stable" && s.file === "stable.yaml"), "stable.yaml applied through its link");
  t.equal((await h.ctx.store.channels.list()).length, 3);
});

t.test("a FIFO named *.yaml is refused without blocking", async (t) => {
  const h = await testApp(t, { seed: false });
  const { dir } = layout(t);
  execFileSync("mkfifo", [join(dir, "pipe.yaml")]);
  const started = performance.now();
  const err = await refused(t, h, dir);
  const ms = performance.now() - started;
  t.comment(`FIFO refused in ${ms.toFixed(0)} ms`);
  t.equal(err.field, "pipe.yaml");
  t.match(err.message, /is not a regular file/);
  t.ok(ms < 5000, "no wait for a writer");
});

t.test("a file over the limit is refused from its size, quickly, without reading it", async (t) => {
  const h = await testApp(t, { seed: false });
  const { dir } = layout(t);
  // 8 GiB, sparse: reading it whole would take long and cannot fit a Buffer.
  const big = join(dir, "releases", "0.99.0.yaml");
  writeFileSync(big, "version: 0.99.0\n");
  truncateSync(big, 8 * 1024 ** 3);
  const rss = process.memoryUsage().rss;
  const started = performance.now();
  const err = await refused(t, h, dir);
  const ms = performance.now() - started;
  const grew = (process.memoryUsage().rss - rss) / 1024 ** 2;
  t.comment(`8 GiB file refused in ${ms.toFixed(0)} ms (apply and the checks that nothing was written); rss grew ${grew.toFixed(1)} MiB`);
  t.equal(err.field, "releases/0.99.0.yaml");
  t.equal(err.message, `releases/0.99.0.yaml: is ${8 * 1024 ** 3} bytes, over the limit of 1 MiB per file`);
  t.ok(ms < 5000, "refused quickly");
  t.ok(grew < 64, "not read into memory");

  // Exactly the limit is fine as far as the size goes.
  const edge = layout(t);
  writeFileSync(join(edge.dir, "releases", "0.99.0.yaml"), `version: 0.99.0\nchart: {path: /x}\nvalues:\n  blob: ${"n".repeat(DECLARATION_LIMITS.maxFileBytes - 51)}\n`);
  const files = findDeclarationFiles(edge.dir);
  t.equal(files.releases.find((f) => f.rel === "releases/0.99.0.yaml")?.size, DECLARATION_LIMITS.maxFileBytes);
  t.equal(readDeclarations(edge.dir).releases.find((r) => r.input.version === "0.99.0")?.input.values.blob, "n".repeat(DECLARATION_LIMITS.maxFileBytes - 51), "and read whole");
});

t.test("the number of files and their total size are bounded", async (t) => {
  const h = await testApp(t, { seed: false });
  const many = layout(t);
  for (let i = 0; i < DECLARATION_LIMITS.maxFiles; i++) writeFileSync(join(many.dir, "releases", `1.0.${i}.yaml`), "");
  const e1 = await refused(t, h, many.dir);
  t.equal(e1.field, "dir");
  t.match(e1.message, `holds more than ${DECLARATION_LIMITS.maxFiles} YAML files (the limit)`);

  // The total, with small limits (the default is 16 MiB).
  const { dir } = layout(t);
  const limits = { ...DECLARATION_LIMITS, maxTotalBytes: 4096 };
  writeFileSync(join(dir, "releases", "0.99.0.yaml"), `version: 0.99.0\nchart: {path: /x}\nnotes: ${"n".repeat(3000)}\n`);
  t.throws(() => readDeclarations(dir, limits), { field: "releases/0.99.0.yaml", message: /brings the files to \d+ bytes, over the limit of 4 KiB for the whole directory/ });
  t.same(readDeclarations(dir, { ...limits, maxTotalBytes: 64 * 1024 }).releases.length, 4, "under the total, all are read");
});

t.test("a declaration that is not plain data is refused, naming file and line", async (t) => {
  const h = await testApp(t, { seed: false });
  const cases: [string, string, RegExp][] = [
    ["releases/0.99.0.yaml", "version: 0.99.0\nchart: {path: /x}\nvalues:\n  hook: !!js/function 'function () { return process.exit() }'\n", /^releases\/0\.99\.0\.yaml: line 4: the tag !!js\/function is not allowed/],
    ["nightly.yaml", "name: nightly\ndescription: !secret hello\n", /^nightly\.yaml: line 2: the tag !secret is not allowed/],
    ["nightly.yaml", `name: nightly\ndefaultValues:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n  d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n`, /^nightly\.yaml: line 4: aliases expand to more than 100 nodes/],
  ];
  for (const [file, text, message] of cases) {
    const { dir } = layout(t);
    writeFileSync(join(dir, file), text);
    const err = await refused(t, h, dir);
    t.equal(err.field, file);
    t.match(err.message, message);
  }
});
