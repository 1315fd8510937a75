import t from "tap";
import { testApp } from "../helpers/app.js";

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
    ["get", "/api/v1/admin/audit", "adminBearer"],
    ["post", "/api/v1/admin/licenses", "adminBearer"],
    ["get", "/api/v1/admin/licenses", "adminBearer"],
    ["post", "/api/v1/admin/licenses/{jti}/revoke", "adminBearer"],
    ["put", "/api/v1/admin/licenses/{sub}/values", "adminBearer"],
    ["delete", "/api/v1/admin/licenses/{sub}/values", "adminBearer"],
    ["get", "/api/v1/admin/fleet", "adminBearer"],
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
