import t from "tap";
import Fastify from "fastify";
import errorHandler from "../../src/plugins/error-handler.js";
import { PromotionConflictError, fieldError, withField } from "../../src/errors.js";
import { toCatalogueError } from "../../src/repositories/database-errors.js";

async function answer(err: Error, url = "/x") {
  const app = Fastify();
  await app.register(errorHandler, {});
  app.get("/x", async () => {
    throw err;
  });
  app.get("/api/v1/admin/x", async () => {
    throw err;
  });
  const res = await app.inject(url);
  await app.close();
  return res;
}

t.test("5xx never carries internals", async (t) => {
  const res = await answer(new Error("SELECT secret FROM users; at /srv/app.js:12"));
  t.equal(res.statusCode, 500);
  t.same(Object.keys(res.json()).sort(), ["code", "error", "message", "statusCode"]);
  t.equal(res.json().code, "INTERNAL");
  t.notMatch(res.body, /SELECT|app\.js/);
});

// Driver errors reach the handler already translated by the repositories
// (src/repositories/database-errors.ts), as the store throws them.
t.test("an unreachable database is a 503 with Retry-After", async (t) => {
  const res = await answer(toCatalogueError(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" })) as Error);
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, "DATABASE_UNAVAILABLE");
  t.ok(res.headers["retry-after"]);
  t.notMatch(res.body, /ECONNREFUSED|5432/);
});

t.test("a write still colliding after the retries is a 503 DATABASE_BUSY, not a 500", async (t) => {
  for (const err of [Object.assign(new Error("SqliteError: database is locked"), { code: "SQLITE_BUSY" }), Object.assign(new Error("could not serialize access"), { code: "40001" })]) {
    const res = await answer(toCatalogueError(err) as Error);
    t.equal(res.statusCode, 503);
    t.equal(res.json().code, "DATABASE_BUSY");
  }
});

t.test("the handler knows no driver codes: an untranslated driver error is an internal error", async (t) => {
  const res = await answer(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
  t.equal(res.statusCode, 500);
  t.equal(res.json().code, "INTERNAL");
  t.notMatch(res.body, /ECONNREFUSED|5432/);
});

t.test("the codes the handler answers with are the catalogue's", async (t) => {
  const app = Fastify();
  await app.register(errorHandler, {});
  app.post("/json", async () => ({}));
  t.teardown(() => app.close());
  const media = await app.inject({ method: "POST", url: "/json", headers: { "content-type": "application/xml" }, payload: "<x/>" });
  t.same([media.statusCode, media.json().code], [415, "UNSUPPORTED_MEDIA_TYPE"]);
  const malformed = await app.inject({ method: "POST", url: "/json", headers: { "content-type": "application/json" }, payload: "{" });
  t.same(malformed.json(), { statusCode: 400, error: "Bad Request", code: "MALFORMED_BODY", message: "body is not valid JSON", field: "(body)", reason: "is not valid JSON" });
  const missing = await app.inject("/nowhere?x=1");
  t.same(missing.json(), { statusCode: 404, error: "Not Found", code: "ROUTE_NOT_FOUND", message: "no route GET /nowhere" });
});

t.test("4xx carries the code, the field and the reason", async (t) => {
  const res = await answer(fieldError("chart.version", "must be SemVer"));
  t.equal(res.statusCode, 400);
  t.same(res.json(), { statusCode: 400, error: "Bad Request", code: "VALIDATION_FAILED", message: "chart.version: must be SemVer", field: "chart.version", reason: "must be SemVer" });
  const conflict = await answer(withField(new PromotionConflictError("moved"), "expectedCurrent"));
  t.equal(conflict.statusCode, 409);
  t.equal(conflict.json().field, "expectedCurrent");
});

t.test("401s carry the realm of their API", async (t) => {
  const { LicenseExpiredError, AdminAuthError } = await import("../../src/errors.js");
  t.equal((await answer(new LicenseExpiredError())).headers["www-authenticate"], 'Basic realm="chartroom"');
  t.equal((await answer(new AdminAuthError("no"), "/api/v1/admin/x")).headers["www-authenticate"], 'Bearer realm="chartroom-admin"');
});
