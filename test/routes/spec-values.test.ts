// Values as served (issue #14): a null in a higher layer removes the key and
// is never served, release creation warns about it, and reconcileFrequency
// must be a Go duration string (400 naming the field otherwise).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { findNulls, type Values } from "../../src/domain/values.js";
import { testApp } from "../helpers/app.js";
import { eachProvider, tempDir } from "../helpers/db.js";

const chart = { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.19.2" };

function servedValues(body: string): Values {
  return (JSON.parse(body) as { values: Values }).values;
}

await eachProvider(t, "a null removes the key from the layers below and is never served; creation warns", async (t, provider) => {
  const h = await testApp(t, { provider, captureLogs: true });
  const nullValues = { mysql: { install: null }, global: { extraEnv: { ENABLE_REGISTRY_UI: null, KEPT: "1" } }, ingress: { annotations: null }, args: ["a", null] };
  const res = await h.admin("POST", "/releases", { version: "0.61.0", chart, values: nullValues }, "release-engineer");
  t.equal(res.statusCode, 201);
  const created = JSON.parse(res.body) as { version: string; values: Values; warnings: { code: string; field: string; message: string }[] };
  t.same(created.warnings.map((w) => w.field), ["values.mysql.install", "values.global.extraEnv.ENABLE_REGISTRY_UI", "values.ingress.annotations", "values.args[1]"]);
  t.ok(created.warnings.every((w) => w.code === "VALUES_NULL" && w.message.startsWith(w.field)), "each warning names its field");
  t.same(created.values, nullValues, "the release is stored as written (the nulls are layering instructions)");
  const logged = h.logs.map((l) => JSON.parse(l) as { level: number; msg: string; warnings?: string[] }).find((l) => l.msg.startsWith("release created with null values"));
  t.ok(logged && logged.level === 40, "logged at warn");
  t.same(logged?.warnings, created.warnings.map((w) => w.field), "the log names the fields");

  const clean = JSON.parse((await h.admin("POST", "/releases", { version: "0.61.1", chart, values: { a: 1 } }, "release-engineer")).body) as { warnings: unknown[] };
  t.same(clean.warnings, [], "no null: an empty warnings list");

  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.61.0" }, "release-engineer")).statusCode, 200);
  const license = h.license({ sub: "customer-1", channel: "stable" });
  const poll = await h.poll(license);
  t.equal(poll.statusCode, 200);
  const v = servedValues(poll.body);
  t.same(findNulls(JSON.parse(poll.body)), [], "no null anywhere in the answer");
  t.same(v.mysql, {}, "mysql.install (false in the channel's defaults) is absent");
  t.same((v.global as Values).extraEnv, { KEPT: "1" }, "the nulled env var is absent, its sibling stays");
  t.same(v.ingress, { class: "nginx" }, "ingress.annotations is absent");
  t.same(v.args, ["a"], "a null array element is dropped");

  // A licensee's override: a null removes a key of the channel's and release's layers for that licensee only.
  t.equal((await h.admin("PUT", "/licenses/customer-1/values", { values: { global: { host: null }, ingress: null } })).statusCode, 200);
  const overridden = servedValues((await h.poll(license)).body);
  t.notOk("host" in (overridden.global as Values), "global.host removed for this licensee");
  t.notOk("ingress" in overridden, "ingress removed for this licensee");
  const other = servedValues((await h.poll(h.license({ sub: "customer-2", channel: "stable" }))).body);
  t.equal((other.global as Values).host, "https://wandb.example.com", "other licensees keep it");
});

await eachProvider(t, "reconcileFrequency: a positive Go duration string, else 400 naming the field", async (t, provider) => {
  const h = await testApp(t, { provider });
  const refused = async (method: "POST" | "PATCH" | "PUT", path: string, body: object, field: string, reason: RegExp) => {
    const res = await h.admin(method, path, body, "admin");
    t.equal(res.statusCode, 400, `${method} ${path} ${JSON.stringify(body)}: 400`);
    const err = JSON.parse(res.body) as { code: string; field: string; reason: string };
    t.equal(err.code, "VALIDATION_FAILED");
    t.equal(err.field, field);
    t.match(err.reason, reason);
  };
  await refused("POST", "/releases", { version: "0.61.0", chart, values: { reconcileFrequency: 30 } }, "values.reconcileFrequency", /Go duration string.*got number/);
  await refused("POST", "/releases", { version: "0.61.0", chart, values: { reconcileFrequency: "30" } }, "values.reconcileFrequency", /Go duration string/);
  await refused("POST", "/releases", { version: "0.61.0", chart, values: { reconcileFrequency: "0s" } }, "values.reconcileFrequency", /positive/);
  await refused("POST", "/releases", { version: "0.61.0", chart, values: { reconcileFrequency: "-1h" } }, "values.reconcileFrequency", /positive/);
  await refused("POST", "/releases", { version: "0.61.0", chart, values: { reconcileFrequency: "1ms" } }, "values.reconcileFrequency", /at least 1m/);
  await refused("PATCH", "/channels/stable", { defaultValues: { reconcileFrequency: "1 hour" } }, "defaultValues.reconcileFrequency", /Go duration string/);
  await refused("POST", "/channels", { name: "nightly", defaultValues: { reconcileFrequency: true } }, "defaultValues.reconcileFrequency", /got boolean/);
  await refused("PUT", "/licenses/customer-1/values", { values: { reconcileFrequency: "1d" } }, "values.reconcileFrequency", /Go duration string/);
  t.equal((await h.admin("GET", "/releases/0.61.0")).statusCode, 404, "nothing was stored");

  t.equal((await h.admin("PATCH", "/channels/stable", { defaultValues: { reconcileFrequency: "30m" } })).statusCode, 200, "a channel sets the fleet's poll interval");
  const license = h.license({ channel: "stable" });
  t.equal(servedValues((await h.poll(license)).body).reconcileFrequency, "30m", "served");
  const nested = await h.admin("POST", "/releases", { version: "0.61.0", chart, values: { reconcileFrequency: "1h30m", app: { reconcileFrequency: 5 } } }, "release-engineer");
  t.equal(nested.statusCode, 201, "only the top-level key is the operator's (a chart may use the name deeper down)");
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.61.0" }, "release-engineer")).statusCode, 200);
  t.equal(servedValues((await h.poll(license)).body).reconcileFrequency, "1h30m", "the release's value wins over the channel's");
  t.equal((await h.admin("POST", "/releases", { version: "0.61.1", chart, values: { reconcileFrequency: null } }, "release-engineer")).statusCode, 201, "null is allowed: it removes the channel's setting");
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.61.1" }, "release-engineer")).statusCode, 200);
  t.notOk("reconcileFrequency" in servedValues((await h.poll(license)).body), "removed: the operator falls back to its own 1h");
});

t.test("declarative files: reconcileFrequency is checked, nulls are named in the plan", async (t) => {
  const h = await testApp(t, { seed: false });
  const dir = tempDir(t);
  mkdirSync(join(dir, "releases"));
  writeFileSync(join(dir, "releases", "1.0.0.yaml"), "version: 1.0.0\nchart: {url: https://charts.wandb.ai, name: operator-wandb, version: 0.18.0}\nvalues:\n  mysql:\n    install: null\n");
  writeFileSync(join(dir, "edge.yaml"), "name: edge\nrelease: 1.0.0\ndefaultValues:\n  reconcileFrequency: 30\n");
  const err = await h.ctx.declarative.apply(dir, { sub: "t" }).then(() => undefined, (e: unknown) => e as { field?: string; reason?: string });
  t.equal(err?.field, "edge.yaml: defaultValues.reconcileFrequency", "the file and field are named");
  writeFileSync(join(dir, "edge.yaml"), "name: edge\nrelease: 1.0.0\ndefaultValues:\n  reconcileFrequency: 15m\n  mysql:\n    install: true\n");
  const plan = await h.ctx.declarative.apply(dir, { sub: "t" }, { dryRun: true });
  const step = plan.steps.find((s) => s.action === "create-release");
  t.match(step?.detail, /warning: null at values\.mysql\.install/, "the plan names the null");
});

t.test("the OpenAPI document shows the warnings of release creation", async (t) => {
  const h = await testApp(t, { seed: false });
  const doc = JSON.parse((await h.app.inject("/openapi.json")).body) as { paths: Record<string, Record<string, { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, { type?: string; items?: { properties?: Record<string, unknown> } }> } }> }> }>> };
  const created = doc.paths["/api/v1/admin/releases"]!.post!.responses["201"]!.content["application/json"]!.schema;
  t.equal(created.properties.warnings?.type, "array");
  t.same(Object.keys(created.properties.warnings?.items?.properties ?? {}).sort(), ["code", "field", "message"]);
  t.ok(created.properties.version, "and the release itself");
});
