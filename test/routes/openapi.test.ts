import t from "tap";
import { Ajv } from "ajv";
import { testApp } from "../helpers/app.js";
import { errorStatuses } from "../../src/error-docs.js";
import { OPERATIONS } from "../../src/routes/openapi-docs.js";

t.test("the OpenAPI document describes every route of the contract, with its security", async (t) => {
  const h = await testApp(t);
  const res = await h.app.inject("/openapi.json");
  t.equal(res.statusCode, 200);
  const doc = res.json();
  t.equal(doc.openapi, "3.0.3");
  const expected: [string, string, string | null][] = [
    ["get", "/api/v1/operator/channel", "license"],
    ["get", "/api/v1/operator/channel/release/{versionId}", "license"],
    ["post", "/api/v1/operator/report", "license"],
    ["get", "/api/v1/admin/channels", "adminBearer"],
    ["post", "/api/v1/admin/channels", "adminBearer"],
    ["get", "/api/v1/admin/channels/{name}", "adminBearer"],
    ["patch", "/api/v1/admin/channels/{name}", "adminBearer"],
    ["post", "/api/v1/admin/channels/{name}/promote", "adminBearer"],
    ["post", "/api/v1/admin/channels/{name}/rollback", "adminBearer"],
    ["get", "/api/v1/admin/channels/{name}/history", "adminBearer"],
    ["post", "/api/v1/admin/releases", "adminBearer"],
    ["get", "/api/v1/admin/releases", "adminBearer"],
    ["get", "/api/v1/admin/releases/{idOrVersion}", "adminBearer"],
    ["post", "/api/v1/admin/releases/{idOrVersion}/yank", "adminBearer"],
    ["post", "/api/v1/admin/releases/{idOrVersion}/required", "adminBearer"],
    ["get", "/api/v1/admin/audit", "adminBearer"],
    ["post", "/api/v1/admin/licenses", "adminBearer"],
    ["get", "/api/v1/admin/licenses", "adminBearer"],
    ["post", "/api/v1/admin/licenses/{jti}/revoke", "adminBearer"],
    ["put", "/api/v1/admin/licenses/{sub}/values", "adminBearer"],
    ["delete", "/api/v1/admin/licenses/{sub}/values", "adminBearer"],
    ["get", "/api/v1/admin/fleet", "adminBearer"],
    ["get", "/api/v1/admin/fleet/{sub}", "adminBearer"],
    ["get", "/api/v1/admin/fleet/{sub}/reports", "adminBearer"],
    ["get", "/api/v1/admin/instances", "adminBearer"],
    ["get", "/api/v1/admin/resolve", "adminBearer"],
    ["get", "/api/v1/admin/freeze", "adminBearer"],
    ["put", "/api/v1/admin/freeze", "adminBearer"],
    ["delete", "/api/v1/admin/freeze", "adminBearer"],
    ["get", "/api/v1/admin/channels/{name}/rollout", "adminBearer"],
    ["get", "/api/v1/admin/channels/{name}/rollouts", "adminBearer"],
    ["post", "/api/v1/admin/channels/{name}/rollout/pause", "adminBearer"],
    ["post", "/api/v1/admin/channels/{name}/rollout/resume", "adminBearer"],
    ["post", "/api/v1/admin/channels/{name}/rollout/advance", "adminBearer"],
    ["post", "/api/v1/admin/channels/{name}/rollout/abort", "adminBearer"],
    ["post", "/api/v1/admin/webhooks", "adminBearer"],
    ["get", "/api/v1/admin/webhooks", "adminBearer"],
    ["delete", "/api/v1/admin/webhooks/{id}", "adminBearer"],
    ["get", "/api/v1/admin/webhooks/{id}/deliveries", "adminBearer"],
    ["get", "/api/v1/admin/bundles", "adminBearer"],
    ["post", "/api/v1/admin/apply", "adminBearer"],
    ["get", "/healthz", null],
    ["get", "/readyz", null],
    ["get", "/metrics", null],
    ["get", "/.well-known/jwks.json", null],
  ];
  for (const [method, path, scheme] of expected) {
    const op = doc.paths?.[path]?.[method];
    t.ok(op, `${method.toUpperCase()} ${path} documented`);
    if (!op) continue;
    if (scheme) t.ok(op.security?.some((s: Record<string, unknown>) => scheme in s), `${method.toUpperCase()} ${path}: ${scheme} security`);
    t.ok(op.responses && Object.keys(op.responses).length > 0, `${method.toUpperCase()} ${path}: responses`);
  }
  const promote = doc.paths["/api/v1/admin/channels/{name}/promote"].post;
  const body = promote.requestBody.content["application/json"].schema;
  t.same(Object.keys(body.properties).sort(), ["allowDowngrade", "dryRun", "expectedCurrent", "from", "reason", "release", "rollout"]);
  t.same(Object.keys(body.properties.rollout.properties).sort(), ["exclude", "gates", "include", "onFailure", "salt", "steps"], "the rollout body of docs/api.md §7");
  // Gates (docs/api.md §9): three kinds, on the rollout and on a step; onFailure halt or rollback.
  const gates = JSON.stringify(body.properties.rollout.properties.gates);
  for (const kind of ["reports", "webhook", "prometheus"]) t.match(gates, new RegExp(`"const":"${kind}"|"enum":\\["${kind}"\\]`), `the ${kind} gate is documented`);
  for (const field of ["minHealthy", "maxFailedRatio", "minSamples", "url", "timeout", "query", "pass"]) t.match(gates, new RegExp(`"${field}"`), `gate field ${field}`);
  t.ok(body.properties.rollout.properties.steps.items.properties.gates, "a step has gates");
  t.same([...body.properties.rollout.properties.onFailure.enum].sort(), ["halt", "rollback"]);
  const view = JSON.stringify(doc.paths["/api/v1/admin/channels/{name}/rollout"].get.responses["200"]);
  for (const field of ["evaluatedAt", "inconclusive", "scope", "onFailure"]) t.match(view, new RegExp(`"${field}"`), `the rollout view documents ${field}`);
  t.ok(promote.responses["202"], "a promotion with a rollout answers 202");
  t.equal(body.additionalProperties, false, "unknown fields refused, as documented");
  for (const move of ["promote", "rollback"]) {
    const answers = JSON.stringify(doc.paths[`/api/v1/admin/channels/{name}/${move}`].post.responses["200"]);
    t.match(answers, /"valuesDiff"/, `${move}: the dry-run answer is documented`);
    t.match(answers, /"changed"/, `${move}: and the promotion answer`);
  }
  const report = doc.paths["/api/v1/operator/report"].post;
  const reportBody = report.requestBody.content["application/json"].schema;
  t.same(Object.keys(reportBody.properties).sort(), ["message", "release", "state"], "the report body of docs/api.md §9");
  t.same(reportBody.properties.state.enum, ["applying", "healthy", "degraded", "failed"]);
  t.equal(reportBody.properties.message.maxLength, 1024);
  t.ok(report.responses["202"], "a report answers 202");

  const hook = doc.paths["/api/v1/admin/webhooks"].post;
  t.same(Object.keys(hook.requestBody.content["application/json"].schema.properties).sort(), ["events", "format", "secret", "url"], "the webhook body of docs/api.md §10");
  t.notMatch(JSON.stringify(hook.responses["201"]), /"secret"/, "no secret in the answer");
  t.ok(doc.components.securitySchemes.license, "license scheme");
  t.notOk(doc.paths["/api/v1/admin/fleet"].get.deprecated, "the fleet at its name");
  t.equal(doc.paths["/api/v1/admin/instances"].get.deprecated, true, "its old path: an alias, marked deprecated");
  t.same(doc.paths["/api/v1/admin/instances"].get.responses["200"], doc.paths["/api/v1/admin/fleet"].get.responses["200"], "answering the same");
});

// Every operation, whichever route file declares it (docs/guide/errors.md
// lists the codes): a description, an example of its body and of each 2xx
// answer, and for every error status the codes it can answer, each a code
// of src/errors.ts with that status.
t.test("every operation has a description, examples and its error codes", async (t) => {
  const h = await testApp(t);
  const doc = (await h.app.inject("/openapi.json")).json();
  const statusesOf = errorStatuses();
  t.notMatch(JSON.stringify(doc.info), /API\.md/, "the title cites no file outside the repository");
  t.match(doc.info.description, /docs\/api\.md/);
  let operations = 0;
  // Examples are real: each validates against the schema it illustrates.
  const ajv = new Ajv({ strict: false, allErrors: true });
  const problems: string[] = [];
  const check = (what: string, schema: unknown, example: unknown) => {
    if (!schema || example === undefined) return;
    const validate = ajv.compile(schema as object);
    if (!validate(example)) problems.push(`${what}: ${ajv.errorsText(validate.errors)}`);
  };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON document, read field by field
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, Record<string, any>>>)) {
    for (const [method, op] of Object.entries(methods)) {
      const name = `${method.toUpperCase()} ${path}`;
      operations++;
      t.ok(typeof op.description === "string" && op.description.length >= 20, `${name}: a description`);
      t.ok(OPERATIONS[name], `${name}: in OPERATIONS (src/routes/openapi-docs.ts)`);
      const body = op.requestBody?.content?.["application/json"];
      if (body) t.not(body.example, undefined, `${name}: an example request`);
      if (body) check(`${name} request`, body.schema, body.example);
      for (const p of op.parameters ?? []) if (p.in === "path") t.not(p.example, undefined, `${name}: an example of the path parameter ${p.name}`);
      const statuses = Object.keys(op.responses ?? {});
      t.ok(statuses.some((s) => /^2/.test(s)), `${name}: a 2xx answer`);
      for (const s of statuses) {
        const r = op.responses[s];
        t.not(r.description, "Default Response", `${name} ${s}: described`);
        if (/^2/.test(s) && s !== "204" && r.content) {
          const media = Object.values(r.content as Record<string, { example?: unknown }>)[0];
          t.not(media?.example, undefined, `${name} ${s}: an example answer`);
          const json = r.content["application/json"];
          if (json) check(`${name} ${s}`, json.schema, json.example);
        }
        if (Number(s) >= 400 && r.content?.["application/json"]?.schema?.properties?.code) {
          const codes: string[] = r["x-error-codes"] ?? [];
          t.ok(codes.length > 0, `${name} ${s}: its error codes`);
          for (const code of codes) t.ok(statusesOf[code]?.includes(Number(s)), `${name} ${s}: ${code} is a ${s} of src/errors.ts`);
          t.same(Object.keys(r.content["application/json"].examples ?? {}), codes, `${name} ${s}: an example of each code`);
          for (const [code, ex] of Object.entries(r.content["application/json"].examples ?? {})) check(`${name} ${s} ${code}`, r.content["application/json"].schema, (ex as { value: unknown }).value);
        }
      }
      if (path.startsWith("/api/v1/")) t.ok(op.responses["401"]?.["x-error-codes"]?.length, `${name}: its 401s`);
    }
  }
  t.ok(operations >= 41, `${operations} operations checked`);
  t.equal(problems.length, 0, `every example is valid against its schema: ${problems.join("; ")}`);
  for (const key of Object.keys(OPERATIONS)) {
    const [method, path] = key.split(" ");
    t.ok(doc.paths[path!]?.[method!.toLowerCase()], `OPERATIONS names ${key}, which exists`);
  }
});

// The codes the document lists are the ones the server answers: refusals
// provoked on purpose, each (status, code) found among its operation's.
t.test("refusals answer codes their operation lists", async (t) => {
  const h = await testApp(t);
  const doc = (await h.app.inject("/openapi.json")).json();
  const probes: [string, string, () => Promise<{ statusCode: number; json: () => { code: string } }>][] = [
    ["get", "/api/v1/admin/channels/{name}", () => h.admin("GET", "/channels/nope")],
    ["post", "/api/v1/admin/channels", () => h.admin("POST", "/channels", { name: "stable" })],
    ["post", "/api/v1/admin/channels/{name}/promote", () => h.admin("POST", "/channels/stable/promote", { release: "0.59.2", expectedCurrent: "0.1.0", reason: "r" })],
    ["post", "/api/v1/admin/channels/{name}/promote", () => h.admin("POST", "/channels/stable/promote", { release: "0.60.0", from: "beta", reason: "r" })],
    ["post", "/api/v1/admin/channels/{name}/promote", () => h.admin("POST", "/channels/stable/promote", { release: "9.9.9", reason: "r" })],
    ["post", "/api/v1/admin/channels/{name}/promote", () => h.admin("POST", "/channels/stable/promote", { release: 5 })],
    ["post", "/api/v1/admin/channels/{name}/promote", () => h.admin("POST", "/channels/stable/promote", { release: "0.59.2", reason: "r" }, "viewer")],
    ["post", "/api/v1/admin/channels/{name}/rollback", () => h.admin("POST", "/channels/stable/rollback", { reason: "r" })],
    ["post", "/api/v1/admin/releases", () => h.admin("POST", "/releases", { version: "0.58.1", chart: { path: "/charts/x" } })],
    ["get", "/api/v1/admin/releases/{idOrVersion}", () => h.admin("GET", "/releases/7.7.7")],
    ["get", "/api/v1/admin/channels/{name}/rollout", () => h.admin("GET", "/channels/stable/rollout")],
    ["post", "/api/v1/admin/channels/{name}/rollout/pause", () => h.admin("POST", "/channels/stable/rollout/pause", { reason: "r" })],
    ["delete", "/api/v1/admin/freeze", () => h.admin("DELETE", "/freeze", { reason: "r" })],
    ["get", "/api/v1/admin/licenses/{sub}/values", () => h.admin("GET", "/licenses/nobody/values")],
    ["delete", "/api/v1/admin/webhooks/{id}", () => h.admin("DELETE", "/webhooks/8be5a25a-d879-4632-a08b-4662a4cb2f6c")],
    ["post", "/api/v1/admin/releases/{idOrVersion}/required", () => h.admin("POST", "/releases/7.7.7/required", { required: true, reason: "schema migration" })],
    ["get", "/api/v1/admin/fleet/{sub}", () => h.admin("GET", "/fleet/nobody")],
    ["get", "/api/v1/admin/bundles", () => h.admin("GET", "/bundles?sub=acme&channel=nope")],
    ["post", "/api/v1/admin/apply", () => h.admin("POST", "/apply", { channels: [{ name: "stable", release: "9.9.9" }] })],
    ["get", "/api/v1/admin/channels", () => h.app.inject({ method: "GET", url: "/api/v1/admin/channels" })],
    ["get", "/api/v1/operator/channel", () => h.app.inject({ method: "GET", url: "/api/v1/operator/channel" })],
    ["get", "/api/v1/operator/channel", () => h.poll("not-a-jwt")],
    ["get", "/api/v1/operator/channel/release/{versionId}", () => h.poll(h.license(), "/api/v1/operator/channel/release/9.9.9")],
    ["post", "/api/v1/operator/report", () => h.app.inject({ method: "POST", url: "/api/v1/operator/report", headers: { authorization: `Bearer ${h.license()}` }, payload: { release: "9.9.9", state: "healthy" } })],
  ];
  for (const [method, path, send] of probes) {
    const res = await send();
    const { code } = res.json();
    const listed: string[] = doc.paths[path]?.[method]?.responses?.[String(res.statusCode)]?.["x-error-codes"] ?? [];
    t.ok(res.statusCode >= 400, `${method.toUpperCase()} ${path}: refused (${res.statusCode} ${code})`);
    t.ok(listed.includes(code), `${method.toUpperCase()} ${path}: ${res.statusCode} ${code} is among its listed codes (${listed.join(", ")})`);
  }
});
