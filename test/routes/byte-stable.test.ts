// Byte-stable answers (issue #14): the W&B operator compares metadata, chart
// and values after every poll and re-applies Helm on any difference, and a
// changed ETag costs a full answer. So the same license gets the same bytes
// and ETag while nothing that feeds its spec changes: across unrelated
// changes, a restart and a second replica, whatever key order the database
// hands back (PostgreSQL's jsonb reorders keys, SQLite keeps them).
import { join } from "node:path";
import t, { type Test } from "tap";
import { buildSpec, serializeSpec } from "../../src/services/spec.js";
import type { Release } from "../../src/domain/schemas.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { eachProvider } from "../helpers/db.js";

t.test("serializeSpec: the same content in any key order gives the same bytes and ETag", async (t) => {
  const release = (values: Release["values"], chart: Release["chart"]): Release => ({
    id: "r1", version: "1.0.0", chart, images: { app: { repository: "wandb/local", tag: "1" } }, values,
    notes: "", createdBy: "t", createdAt: new Date(0), yankedAt: null, yankedBy: null, yankReason: null, required: false, requiredReason: null, requiredBy: null, requiredAt: null, upgradeFrom: null,
  });
  const a = release({ zeta: 1, a: { mid: [{ y: 1, x: 2 }], bb: 1.5 } }, { url: "https://c.example.com", name: "c", version: "1.0.0" });
  const b = release({ a: { bb: 1.5, mid: [{ x: 2, y: 1 }] }, zeta: 1 }, { version: "1.0.0", name: "c", url: "https://c.example.com" });
  const sa = serializeSpec(buildSpec({ name: "s", defaultValues: { q: 1, p: 2 } }, a), a, "s");
  const sb = serializeSpec(buildSpec({ name: "s", defaultValues: { p: 2, q: 1 } }, b), b, "s");
  t.equal(sa.body.toString(), sb.body.toString());
  t.equal(sa.etag, sb.etag);
  t.match(sa.body.toString(), /^\{"chart":\{"name":"c","url":"https:\/\/c.example.com","version":"1.0.0"\},"metadata":\{/, "keys sorted at every level");
  t.notOk(/\s/.test(sa.body.toString().replace(/"[^"]*"/g, "")), "no whitespace outside strings");
});

/** Keys whose order jsonb changes (it sorts by length, then bytes) and numbers in several spellings. */
const TRICKY_VALUES = { zz: { "long-key-first": 1, b: 2, aa: [3, { z: 0.1, y: 1e21 }] }, a: { "x.y": "1.50", n: 1.5, big: 12345678901234567000, neg: -7 } };

interface Answer {
  body: string;
  etag: string;
}

async function answer(t: Test, h: TestApp, license: string, label: string): Promise<Answer> {
  const res = await h.poll(license);
  t.equal(res.statusCode, 200, `${label}: 200`);
  return { body: res.body, etag: String(res.headers.etag) };
}

/** The values part of the body, as served (the bytes between `"values":` and the end). */
function valuesBytes(body: string): string {
  return body.slice(body.indexOf('"values":'));
}

const valuesByProvider = new Map<string, string[]>();

await eachProvider(t, "the same license gets the same bytes and ETag across unrelated changes, a restart and a second replica", async (t, provider) => {
  const a = await testApp(t, { provider });
  const keyFile = join(a.dataDir, "license-key.pem");
  // What feeds the licensees' specs: stable's defaults, its release, one licensee's overrides.
  t.equal((await a.admin("PATCH", "/channels/stable", { defaultValues: { ...TRICKY_VALUES, global: { host: "https://wandb.example.com" } } })).statusCode, 200);
  const created = await a.admin("POST", "/releases", { version: "0.61.0", chart: { version: "0.19.2", name: "operator-wandb", url: "https://charts.wandb.ai" }, images: { app: { tag: "0.61.0", repository: "wandb/local" } }, values: { zz: { c: 3 }, mm: { "k-2": 2, "k-10": 10 } } }, "release-engineer");
  t.equal(created.statusCode, 201);
  t.equal((await a.admin("POST", "/channels/stable/promote", { release: "0.61.0" }, "release-engineer")).statusCode, 200);
  t.equal((await a.admin("PUT", "/licenses/with-overrides/values", { values: { zz: { "long-key-first": { q: 1, p: 2 } }, bb: true } })).statusCode, 200);

  const stored = JSON.parse((await a.admin("GET", "/channels/stable")).body) as { defaultValues: { zz: object } };
  const order = Object.keys(stored.defaultValues.zz).join(",");
  if (provider === "postgresql") t.equal(order, "b,aa,long-key-first", "jsonb hands keys back reordered (length, then bytes): what the canonical form is for");
  else t.equal(order, "long-key-first,b,aa", "SQLite keeps the order written");

  const licenses = { plain: a.license({ sub: "plain", channel: "stable" }), overridden: a.license({ sub: "with-overrides", channel: "stable" }) };
  const first: Record<string, Answer> = {};
  for (const [who, l] of Object.entries(licenses)) first[who] = await answer(t, a, l, `${who}, first poll`);
  t.not(first.plain!.etag, first.overridden!.etag, "the two licensees' specs differ (the override is in one)");
  valuesByProvider.set(provider, Object.values(first).map((x) => valuesBytes(x.body)));

  const same = async (h: TestApp, label: string) => {
    for (const [who, l] of Object.entries(licenses)) {
      const now = await answer(t, h, l, `${who}, ${label}`);
      t.equal(now.body, first[who]!.body, `${who}, ${label}: the same bytes`);
      t.equal(now.etag, first[who]!.etag, `${who}, ${label}: the same ETag`);
      const revalidated = await h.poll(l, undefined, { "if-none-match": first[who]!.etag });
      t.equal(revalidated.statusCode, 304, `${who}, ${label}: the first poll's ETag still answers 304`);
    }
  };

  // Unrelated changes: another channel, another licensee's overrides, a release no channel serves.
  t.equal((await a.admin("PATCH", "/channels/beta", { defaultValues: { global: { host: "https://beta.example.com" }, zz: { b: 9 } } })).statusCode, 200);
  t.equal((await a.admin("PUT", "/licenses/someone-else/values", { values: { zz: { b: 3 } } })).statusCode, 200);
  t.equal((await a.admin("POST", "/releases", { version: "0.62.0", chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.20.0" }, values: { zz: { b: 4 } } }, "release-engineer")).statusCode, 201);
  t.equal((await a.admin("POST", "/channels/unstable/promote", { release: "0.62.0" }, "release-engineer")).statusCode, 200, "and a promotion on another channel");
  await same(a, "after unrelated changes");

  // Restart: this process is gone, a new one loads everything from the database (same keys).
  await a.app.close();
  await a.ctx.stop();
  const restarted = await testApp(t, { provider, databaseUrl: a.url, seed: false, env: { LICENSE_SIGNING_KEY_FILE: keyFile } });
  await same(restarted, "after a restart");

  if (provider === "postgresql") {
    const replica = await testApp(t, { provider, databaseUrl: a.url, seed: false, env: { LICENSE_SIGNING_KEY_FILE: keyFile } });
    await same(replica, "on a second replica");
  }
});

t.test("the values bytes are the same on SQLite and PostgreSQL (they depend on content only)", async (t) => {
  const sqlite = valuesByProvider.get("sqlite");
  const pg = valuesByProvider.get("postgresql");
  if (!sqlite || !pg) {
    t.ok(!process.env.CI, "both providers ran (required in CI)");
    return;
  }
  t.same(pg, sqlite);
});
