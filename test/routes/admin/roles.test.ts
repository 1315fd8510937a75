// Role matrix of the admin API (docs/api.md §3): every admin route × every kind
// of caller. A holder of the route's role (or a higher one) gets a 2xx; a
// lower role gets 403 ROLE_REQUIRED; no or a bad token gets 401
// ADMIN_UNAUTHORIZED. Never a 500, and a refused call changes nothing.
import { createSigner } from "fast-jwt";
import t from "tap";
import { mintAdminToken } from "../../../src/admin/admin-token.js";
import { ADMIN_SECRET, testApp, type TestApp } from "../../helpers/app.js";
import { assertPlainError, call, snapshot, type Method } from "./fixtures/admin-helpers.js";

type Role = "viewer" | "release-engineer" | "admin";
const RANK: Record<Role, number> = { viewer: 1, "release-engineer": 2, admin: 3 };
const AUDIENCE = "chartroom-admin";

interface Route {
  method: Method;
  /** As in docs/api.md §3, under /api/v1/admin. */
  pattern: string;
  role: Role;
  /** The path and body of one call that succeeds for an allowed caller (may prepare state). */
  prepare: (h: TestApp, n: number) => Promise<{ path: string; body?: unknown }>;
  /** Whether a call mutates (a refused one must then leave the database as it was). */
  mutates: boolean;
}

const ROUTES: Route[] = [
  { method: "GET", pattern: "/channels", role: "viewer", mutates: false, prepare: async () => ({ path: "/channels" }) },
  { method: "POST", pattern: "/channels", role: "admin", mutates: true, prepare: async (_h, n) => ({ path: "/channels", body: { name: `matrix-${n}`, description: "made by the role matrix" } }) },
  { method: "GET", pattern: "/channels/:name", role: "viewer", mutates: false, prepare: async () => ({ path: "/channels/stable" }) },
  { method: "PATCH", pattern: "/channels/:name", role: "admin", mutates: true, prepare: async (_h, n) => ({ path: "/channels/beta", body: { description: `patched ${n}` } }) },
  {
    method: "POST", pattern: "/releases", role: "release-engineer", mutates: true,
    prepare: async (_h, n) => ({ path: "/releases", body: { version: `9.0.${n}`, chart: { path: "charts/operator-wandb" } } }),
  },
  { method: "GET", pattern: "/releases", role: "viewer", mutates: false, prepare: async () => ({ path: "/releases?limit=2" }) },
  { method: "GET", pattern: "/releases/:idOrVersion", role: "viewer", mutates: false, prepare: async () => ({ path: "/releases/0.58.1" }) },
  {
    method: "POST", pattern: "/releases/:idOrVersion/yank", role: "release-engineer", mutates: true,
    prepare: async (h, n) => {
      const version = `8.0.${n}`;
      const res = await call(h, "POST", "/releases", { body: { version, chart: { path: "charts/x" } }, role: "admin" });
      if (res.statusCode !== 201) throw new Error(`could not prepare release ${version}: ${res.body}`);
      return { path: `/releases/${version}/yank`, body: { reason: "broken build" } };
    },
  },
  {
    method: "POST", pattern: "/channels/:name/promote", role: "release-engineer", mutates: true,
    // The current release again: a 200 that changes nothing, repeatable.
    prepare: async () => ({ path: "/channels/stable/promote", body: { release: "0.58.1", expectedCurrent: "0.58.1" } }),
  },
  {
    method: "POST", pattern: "/channels/:name/rollback", role: "release-engineer", mutates: true,
    prepare: async () => ({ path: "/channels/stable/rollback", body: { to: "0.58.1", reason: "matrix" } }),
  },
  { method: "GET", pattern: "/channels/:name/history", role: "viewer", mutates: false, prepare: async () => ({ path: "/channels/stable/history" }) },
  { method: "GET", pattern: "/audit", role: "viewer", mutates: false, prepare: async () => ({ path: "/audit?limit=5" }) },
  // License and fleet routes of docs/api.md §3.
  {
    method: "POST", pattern: "/licenses", role: "admin", mutates: true,
    prepare: async (_h, n) => ({ path: "/licenses", body: { sub: `matrix-customer-${n}`, channel: "stable" } }),
  },
  { method: "GET", pattern: "/licenses", role: "viewer", mutates: false, prepare: async () => ({ path: "/licenses" }) },
  {
    method: "POST", pattern: "/licenses/:jti/revoke", role: "admin", mutates: true,
    prepare: async (_h, n) => ({ path: `/licenses/matrix-jti-${n}/revoke`, body: { reason: "matrix" } }),
  },
  { method: "GET", pattern: "/fleet", role: "viewer", mutates: false, prepare: async () => ({ path: "/fleet" }) },
  // The fleet's old path, kept as an alias.
  { method: "GET", pattern: "/instances", role: "viewer", mutates: false, prepare: async () => ({ path: "/instances" }) },
  // What a licensee's poll gets, and why (docs/api.md §7).
  { method: "GET", pattern: "/resolve", role: "viewer", mutates: false, prepare: async () => ({ path: "/resolve?sub=customer-1&channel=stable" }) },
  // Webhooks (docs/api.md §10): admin only, reading them too (they name where the fleet's news goes).
  { method: "POST", pattern: "/webhooks", role: "admin", mutates: true, prepare: async (_h, n) => ({ path: "/webhooks", body: { url: `https://hooks.example.com/${n}`, secret: "matrix-secret-0123456789" } }) },
  { method: "GET", pattern: "/webhooks", role: "admin", mutates: false, prepare: async () => ({ path: "/webhooks" }) },
  // Declarative apply over HTTP: admin only, like creating the channel it declares.
  { method: "POST", pattern: "/apply", role: "admin", mutates: true, prepare: async (_h, n) => ({ path: "/apply", body: { channels: [{ name: `applied-${n}` }] } }) },
  {
    method: "GET", pattern: "/webhooks/:id/deliveries", role: "admin", mutates: false,
    prepare: async (h, n) => {
      const res = await call(h, "POST", "/webhooks", { body: { url: `https://hooks.example.com/d${n}`, secret: "matrix-secret-0123456789" }, role: "admin" });
      if (res.statusCode !== 201) throw new Error(`could not prepare a webhook: ${res.body}`);
      return { path: `/webhooks/${(res.json() as { id: string }).id}/deliveries` };
    },
  },
];

type Expect = { kind: "ok" } | { kind: "forbidden"; needs: Role } | { kind: "unauthorized"; reason?: RegExp };

interface Caller {
  name: string;
  authorization: (h: TestApp) => string | null;
  expect: (route: Route) => Expect;
}

function byRole(held: string[]) {
  return (route: Route): Expect =>
    held.some((r) => RANK[r as Role] !== undefined && RANK[r as Role] >= RANK[route.role]) ? { kind: "ok" } : { kind: "forbidden", needs: route.role };
}
const unauthorized = (reason?: RegExp) => (): Expect => ({ kind: "unauthorized", ...(reason ? { reason } : {}) });

function sign(payload: Record<string, unknown>, key = ADMIN_SECRET): string {
  return createSigner({ key, algorithm: "HS256" })(payload);
}
const now = () => Math.floor(Date.now() / 1000);

const CALLERS: Caller[] = [
  { name: "viewer", authorization: (h) => `Bearer ${h.adminToken("viewer")}`, expect: byRole(["viewer"]) },
  { name: "release-engineer", authorization: (h) => `Bearer ${h.adminToken("release-engineer")}`, expect: byRole(["release-engineer"]) },
  { name: "admin", authorization: (h) => `Bearer ${h.adminToken("admin")}`, expect: byRole(["admin"]) },
  { name: "viewer + release-engineer", authorization: () => `Bearer ${sign({ sub: "two@example.com", roles: ["viewer", "release-engineer"], aud: AUDIENCE, exp: now() + 600 })}`, expect: byRole(["viewer", "release-engineer"]) },
  { name: "no roles", authorization: () => `Bearer ${sign({ sub: "nobody@example.com", roles: [], aud: AUDIENCE, exp: now() + 600 })}`, expect: byRole([]) },
  { name: "unknown role only", authorization: () => `Bearer ${sign({ sub: "root@example.com", roles: ["superuser", "root"], aud: AUDIENCE, exp: now() + 600 })}`, expect: byRole([]) },
  { name: "roles not an array", authorization: () => `Bearer ${sign({ sub: "str@example.com", roles: "admin", aud: AUDIENCE, exp: now() + 600 })}`, expect: byRole([]) },
  { name: "no token", authorization: () => null, expect: unauthorized(/required/) },
  { name: "empty bearer", authorization: () => "Bearer ", expect: unauthorized() },
  { name: "Basic credentials", authorization: (h) => `Basic ${Buffer.from(`license:${h.license()}`).toString("base64")}`, expect: unauthorized() },
  { name: "a license token", authorization: (h) => `Bearer ${h.license()}`, expect: unauthorized() },
  { name: "not a JWT", authorization: () => "Bearer not.a.jwt", expect: unauthorized() },
  {
    name: "expired admin token",
    authorization: () => `Bearer ${mintAdminToken(ADMIN_SECRET, { sub: "late@example.com", roles: ["admin"], ttlSec: -300, audience: AUDIENCE })}`,
    expect: unauthorized(/expired/),
  },
  { name: "expired (signed by hand)", authorization: () => `Bearer ${sign({ sub: "late@example.com", roles: ["admin"], aud: AUDIENCE, iat: now() - 7200, exp: now() - 3600 })}`, expect: unauthorized(/expired/) },
  { name: "no exp", authorization: () => `Bearer ${sign({ sub: "forever@example.com", roles: ["admin"], aud: AUDIENCE })}`, expect: unauthorized() },
  { name: "no sub", authorization: () => `Bearer ${sign({ roles: ["admin"], aud: AUDIENCE, exp: now() + 600 })}`, expect: unauthorized() },
  { name: "not valid yet", authorization: () => `Bearer ${sign({ sub: "early@example.com", roles: ["admin"], aud: AUDIENCE, nbf: now() + 3600, exp: now() + 7200 })}`, expect: unauthorized() },
  {
    name: "wrong audience",
    authorization: () => `Bearer ${mintAdminToken(ADMIN_SECRET, { sub: "elsewhere@example.com", roles: ["admin"], ttlSec: 600, audience: "some-other-service" })}`,
    expect: unauthorized(),
  },
  { name: "no audience", authorization: () => `Bearer ${sign({ sub: "anyone@example.com", roles: ["admin"], exp: now() + 600 })}`, expect: unauthorized() },
  {
    name: "signed with a different secret",
    authorization: () => `Bearer ${mintAdminToken("another-secret-that-is-long-enough-9876543210", { sub: "mallory@example.com", roles: ["admin"], ttlSec: 600, audience: AUDIENCE })}`,
    expect: unauthorized(),
  },
  {
    name: "alg none",
    authorization: () => {
      const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
      return `Bearer ${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "none@example.com", roles: ["admin"], aud: AUDIENCE, exp: now() + 600 })}.`;
    },
    expect: unauthorized(),
  },
];

t.test("role matrix: every admin route × every caller", async (t) => {
  const h = await testApp(t);
  let n = 0;
  const missing: string[] = [];
  for (const route of ROUTES) {
    const url = `/api/v1/admin${route.pattern}`;
    if (!h.app.hasRoute({ method: route.method, url })) {
      // Not served (yet): it must at least be a clean JSON 404 for everyone,
      // never a 2xx or a 500. The full matrix runs once the route exists.
      missing.push(`${route.method} ${route.pattern}`);
      const { path, body } = await route.prepare(h, n++);
      for (const caller of CALLERS) {
        const res = await call(h, route.method, path, { body, authorization: caller.authorization(h) });
        assertPlainError(t, res, 404, "ROUTE_NOT_FOUND", `${caller.name} → unserved ${route.method} ${path}`);
      }
      continue;
    }
    await t.test(`${route.method} ${route.pattern} (${route.role})`, async (t) => {
      for (const caller of CALLERS) {
        const expect = caller.expect(route);
        const { path, body } = await route.prepare(h, n++);
        const before = route.mutates ? await snapshot(h) : undefined;
        const authorization = caller.authorization(h);
        const res = await call(h, route.method, path, { body, authorization });
        const what = `${caller.name} → ${route.method} ${path}`;
        t.not(res.statusCode, 500, `${what}: never a 500`);
        if (expect.kind === "ok") {
          t.ok(res.statusCode >= 200 && res.statusCode < 300, `${what}: 2xx (got ${res.statusCode} ${res.statusCode >= 300 ? res.body.slice(0, 200) : ""})`);
        } else if (expect.kind === "forbidden") {
          const b = assertPlainError(t, res, 403, "ROLE_REQUIRED", what);
          t.match(b.message, new RegExp(`needs the ${expect.needs} role`), `${what}: names the role`);
        } else {
          const b = assertPlainError(t, res, 401, "ADMIN_UNAUTHORIZED", what);
          t.match(res.headers["www-authenticate"], /^Bearer /, `${what}: WWW-Authenticate: Bearer`);
          if (expect.reason) t.match(b.message, expect.reason, `${what}: says why`);
          if (authorization) {
            const token = authorization.replace(/^\S+\s+/, "");
            if (token.length > 8) t.notOk(res.body.includes(token), `${what}: never echoes the token`);
          }
        }
        if (before && expect.kind !== "ok") t.same(await snapshot(h), before, `${what}: refused call changed nothing`);
      }
    });
  }
  // docs/api.md §3 lists these routes; say loudly which ones the server lacks.
  if (missing.length) t.comment(`*** docs/api.md §3 admin routes not served by this server: ${missing.join(", ")} ***`);
  t.ok(missing.length < ROUTES.length, "the admin API is served at all");
});

t.test("an admin token never reads a spec", async (t) => {
  const h = await testApp(t);
  const token = h.adminToken("admin");
  const bearer = await h.app.inject({ url: "/api/v1/operator/channel", headers: { authorization: `Bearer ${token}` } });
  t.equal(bearer.statusCode, 401, "admin token as Bearer license");
  t.notOk(bearer.body.includes(token));
  const basic = await h.poll(token);
  t.equal(basic.statusCode, 401, "admin token as Basic license");
  t.equal(basic.json().statusCode, 401);
});

t.test("the actor of a mutation is the token's sub", async (t) => {
  const h = await testApp(t);
  const res = await call(h, "PATCH", "/channels/beta", { body: { description: "who did this" }, role: "admin", sub: "carol@example.com", requestId: "req-roles-1" });
  t.equal(res.statusCode, 200);
  const audit = await call(h, "GET", "/audit?target=beta&action=channel.update", { role: "viewer" });
  t.equal(audit.statusCode, 200);
  t.match(audit.json().items[0], { actor: "carol@example.com", action: "channel.update", target: "beta", requestId: "req-roles-1" });
});
