// How bad input is answered (issue 20): every problem of a body at once
// (`errors`, the first of them also `field` and `reason`), no "body."
// prefix, a hint for a number where a string belongs (YAML's version: 1.0),
// and the same for the declarative files, whose YAML syntax errors are
// reported whole (line, column, the excerpt).
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { CHANNELS_DIR, testApp } from "../../helpers/app.js";
import { readDeclarations } from "../../../src/services/apply-channels.js";
import { describeIssues } from "../../../src/domain/issues.js";
import { releaseInputSchema } from "../../../src/domain/schemas.js";

t.test("a release body with several mistakes: every one, in order, without body.", async (t) => {
  const h = await testApp(t, { seed: false });
  const res = await h.admin("POST", "/releases", {
    version: 1,
    chart: { url: "https://charts.example.com", version: "1.0.0" },
    images: { app: { repository: "Not A Repo", tag: "x" } },
    colour: "blue",
  });
  t.equal(res.statusCode, 400);
  const body = res.json() as { code: string; message: string; field: string; reason: string; errors: { field: string; reason: string }[] };
  t.equal(body.code, "VALIDATION_FAILED");
  t.same(body.errors.map((e) => e.field).sort(), ["chart.name", "colour", "images.app.repository", "version"], "all four problems");
  t.same(body.errors[0], { field: body.field, reason: body.reason }, "the first is field and reason");
  t.notMatch(body.message, /\bbody\./, "no body. prefix");
  for (const e of body.errors) t.match(body.message, `${e.field}: ${e.reason}`, `the message names ${e.field}`);
  const version = body.errors.find((e) => e.field === "version")!;
  t.match(version.reason, /^must be a string, not a number .*write it as a string: version: "1\.0\.0"$/, "the YAML number hint");

  // One problem: the answer as before, no errors list.
  const one = await h.admin("POST", "/releases", { version: "1.0.0", chart: { path: "" } });
  t.equal(one.statusCode, 400);
  const oneBody = one.json() as Record<string, unknown>;
  t.equal(oneBody.errors, undefined, "errors only with more than one problem");
  t.same(Object.keys(oneBody).sort(), ["code", "error", "field", "message", "reason", "statusCode"]);
  t.equal(oneBody.message, `${String(oneBody.field)}: ${String(oneBody.reason)}`, "field: reason, no prefix");

  // A query keeps its place in the message (querystring.limit), it is not a body field.
  const q = await h.admin("GET", "/releases?limit=0");
  t.match((q.json() as { message: string }).message, /^querystring\.limit: /);
});

t.test("declarative files: every problem of a file, the number hint, YAML syntax errors whole", async (t) => {
  const dir = join(t.testdir({}), "channels");
  cpSync(CHANNELS_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "releases", "0.99.0.yaml"), "version: 0.99\nchart:\n  url: oci://registry.example.com/charts/app\nimages:\n  app: {repository: ok}\n");
  const err = (() => {
    try {
      readDeclarations(dir);
      return undefined;
    } catch (e) {
      return e as { code: string; field: string; message: string; errors?: { field: string; reason: string }[] };
    }
  })();
  t.ok(err, "refused");
  t.equal(err?.code, "VALIDATION_FAILED");
  t.same(err?.errors?.map((e) => e.field), ["releases/0.99.0.yaml: version", "releases/0.99.0.yaml: chart.version", "releases/0.99.0.yaml: images.app.tag"], "all three, named with their file");
  t.equal(err?.field, "releases/0.99.0.yaml: version");
  t.match(err?.message, /releases\/0\.99\.0\.yaml: version: must be a string, not a number .*version: "1\.0\.0"; releases\/0\.99\.0\.yaml: chart\.version: .*; releases\/0\.99\.0\.yaml: images\.app\.tag: needs a tag or a digest/);

  writeFileSync(join(dir, "releases", "0.99.0.yaml"), "version: 0.99.0\nchart: {url: x\n");
  const syntax = (() => {
    try {
      readDeclarations(dir);
      return undefined;
    } catch (e) {
      return e as { message: string };
    }
  })();
  t.match(syntax?.message, /^releases\/0\.99\.0\.yaml: line \d+: not valid YAML: Flow map .* at column \d+:\n {2}chart: \{url: x\n/, `whole: ${syntax?.message}`);
});

t.test("describeIssues: one entry per unknown key, each problem once", async (t) => {
  const r = releaseInputSchema.safeParse({ version: "1.0.0", chart: { path: "/c" }, a: 1, b: 2 });
  t.notOk(r.success);
  t.same(describeIssues(r.error!.issues), [
    { field: "a", reason: "is not a known field" },
    { field: "b", reason: "is not a known field" },
  ]);
});
