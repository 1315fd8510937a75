// Dry-run promotions and rollbacks (docs/api.md §7), on SQLite and
// PostgreSQL: the decision, the fleet licensees it would reach by the
// release each was last served, RFC 6902 diffs that, applied to what the
// channel serves now, give what it serves after the real promotion; nothing
// written (every table's row count, history, audit, state versions, the
// promotions metric); refusals exactly as without dryRun; roles as promote.
import t from "tap";
import type { Test } from "tap";
import Database from "better-sqlite3";
import pg from "pg";
import { applyPatch } from "rfc6902";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { call, createRelease, snapshot } from "./fixtures/admin-helpers.js";

/** Rows of every table of the app's database (the migrations' own table too). */
async function tableCounts(h: TestApp): Promise<Record<string, number>> {
  const url = h.ctx.config.DATABASE_URL;
  const out: Record<string, number> = {};
  if (url.startsWith("file:")) {
    const db = new Database(url.replace(/^file:/, ""), { readonly: true });
    try {
      const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).all() as { name: string }[];
      for (const { name } of tables) out[name] = (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
    } finally {
      db.close();
    }
    return out;
  }
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const tables = await c.query<{ table_name: string }>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`);
    for (const { table_name } of tables.rows) out[table_name] = Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM "${table_name}"`)).rows[0]!.n);
  } finally {
    await c.end();
  }
  return out;
}

/** Everything a dry run must leave alone. */
async function everything(h: TestApp) {
  const metric = await h.ctx.metrics.promotions.get();
  return {
    tables: await tableCounts(h),
    catalog: await snapshot(h),
    fleet: JSON.parse(JSON.stringify(await h.ctx.store.fleet.list())) as unknown,
    promotions: metric.values.map((v) => [v.labels, v.value]),
  };
}

/** The values a licensee without overrides is served on `channel` now. */
async function servedValues(t: Test, h: TestApp, channel: string): Promise<Record<string, unknown>> {
  const res = await h.poll(h.license({ sub: `probe-${channel}`, channel }));
  t.equal(res.statusCode, 200, `poll of ${channel}`);
  return res.json().values;
}

function promote(h: TestApp, channel: string, body: Record<string, unknown>, role: "release-engineer" | "viewer" | "admin" = "release-engineer") {
  return call(h, "POST", `/channels/${channel}/promote`, { body, role });
}

function rollback(h: TestApp, channel: string, body: Record<string, unknown>, role: "release-engineer" | "viewer" | "admin" = "release-engineer") {
  return call(h, "POST", `/channels/${channel}/rollback`, { body, role });
}

/** `patch` applied to a copy of `doc`: every operation must apply. */
function applied(t: Test, doc: unknown, patch: Parameters<typeof applyPatch>[1]): unknown {
  const copy = structuredClone(doc);
  const errors = applyPatch(copy, patch);
  t.same(errors.filter((e) => e !== null), [], "every operation of the diff applies");
  return copy;
}

/** Licensees on stable: two last served 0.58.1, one 0.59.2 (after a real promotion). */
async function seedFleet(t: Test, h: TestApp) {
  for (const sub of ["acme", "globex"]) t.equal((await h.poll(h.license({ sub, channel: "stable" }))).statusCode, 200);
  await h.ctx.fleet.flush(true);
  t.equal((await promote(h, "stable", { release: "0.59.2", from: "beta" })).statusCode, 200, "stable promoted to 0.59.2");
  t.equal((await h.poll(h.license({ sub: "initech", channel: "stable" }))).statusCode, 200);
  t.equal((await h.poll(h.license({ sub: "beta-user", channel: "beta" }))).statusCode, 200);
  await h.ctx.fleet.flush(true);
}

await eachProvider(t, "a dry-run promotion answers what would happen and writes nothing", async (t, provider) => {
  const h = await testApp(t, { provider });
  await seedFleet(t, h);
  await createRelease(t, h, "0.61.0", {
    chart: { url: "https://charts.example.com", name: "operator-wandb", version: "0.21.0" },
    images: { app: { repository: "wandb/local", tag: "0.61.0" }, weave: { repository: "wandb/weave", tag: "0.61.0" } },
    values: { app: { replicas: 3, env: { FEATURE_X: "on" } }, parquet: { enabled: true } },
  });
  const before = await servedValues(t, h, "stable");
  await h.ctx.fleet.flush(true);
  const still = await everything(h);

  const started = performance.now();
  const res = await promote(h, "stable", { release: "0.61.0", expectedCurrent: "0.59.2", reason: "GA", dryRun: true });
  t.comment(`dry run answered in ${(performance.now() - started).toFixed(1)} ms`);
  t.equal(res.statusCode, 200, res.body);
  const body = res.json();
  t.match(body, {
    dryRun: true,
    channel: "stable",
    decision: { action: "promote", from: { version: "0.59.2" }, to: { version: "0.61.0" } },
    affected: { licensees: 4, byRelease: { "0.58.1": 2, "0.59.2": 2 } },
  });
  t.same(Object.keys(body.affected.byRelease).sort(), ["0.58.1", "0.59.2"], "only stable's licensees (not beta's)");
  t.match(body.message, /dry run/);
  t.ok(body.valuesDiff.length > 0, "the values change");
  for (const op of body.valuesDiff) t.match(op.path, /^(\/[^/]*)+$/, `JSON pointer ${op.path}`);
  t.ok(body.valuesDiff.some((op: { op: string; path: string; value?: unknown }) => op.op === "replace" && op.path === "/app/image/tag" && op.value === "0.61.0"), "the image tag is replaced");
  t.ok(body.valuesDiff.some((op: { op: string; path: string }) => op.op === "add" && op.path === "/parquet"), "the new key is added");
  t.same(body.chartDiff.filter((op: { path: string }) => op.path === "/version"), [
    { op: "test", path: "/version", value: "0.18.0" },
    { op: "replace", path: "/version", value: "0.21.0" },
  ], "the chart version change, with the version it replaces");

  t.same(await everything(h), still, "nothing written: tables, catalog, history, audit, state versions, fleet, metrics");

  // The real promotion serves exactly what the dry run predicted.
  const real = await promote(h, "stable", { release: "0.61.0", expectedCurrent: "0.59.2", reason: "GA" });
  t.equal(real.statusCode, 200, real.body);
  const after = await servedValues(t, h, "stable");
  t.same(applied(t, before, body.valuesDiff), after, "the diff applied to the values served before gives the values served after");
  t.notSame(before, after);
  const stale = structuredClone(before) as { app: { image: { tag: string } } };
  stale.app.image.tag = "0.1.0";
  t.ok(applyPatch(stale, body.valuesDiff).some((e) => e !== null), "applied to other values, the diff's tests fail");
});

await eachProvider(t, "dry runs of a no-op, a downgrade and a rollback", async (t, provider) => {
  const h = await testApp(t, { provider });
  await seedFleet(t, h);
  const still = await everything(h);

  const noop = await promote(h, "stable", { release: "0.59.2", dryRun: true });
  t.equal(noop.statusCode, 200, noop.body);
  t.match(noop.json(), { dryRun: true, decision: { action: "noop", from: { version: "0.59.2" }, to: { version: "0.59.2" } }, valuesDiff: [], chartDiff: [] });
  t.match(noop.json().message, /already at 0\.59\.2/);

  const down = await promote(h, "stable", { release: "0.58.1", allowDowngrade: true, dryRun: true });
  t.equal(down.statusCode, 200, down.body);
  t.match(down.json(), { decision: { action: "rollback", from: { version: "0.59.2" }, to: { version: "0.58.1" } }, affected: { licensees: 3 } });

  const back = await rollback(h, "stable", { reason: "bad canary", dryRun: true });
  t.equal(back.statusCode, 200, back.body);
  const preview = back.json();
  t.match(preview, { dryRun: true, decision: { action: "rollback", from: { version: "0.59.2" }, to: { version: "0.58.1" } }, affected: { licensees: 3, byRelease: { "0.58.1": 2, "0.59.2": 1 } } });
  t.same(await everything(h), still, "nothing written by any of the three");

  const before = await servedValues(t, h, "stable");
  t.equal((await rollback(h, "stable", { reason: "bad canary" })).statusCode, 200, "the real rollback");
  t.same(applied(t, before, preview.valuesDiff), await servedValues(t, h, "stable"), "the rollback's diff gives what it serves after");

  // A channel without a release: `from` null, the diff builds the values from nothing.
  t.equal((await call(h, "POST", "/channels", { body: { name: "edge", defaultValues: { global: { host: "https://edge" } } } })).statusCode, 201);
  const first = await promote(h, "edge", { release: "0.60.0", dryRun: true });
  t.equal(first.statusCode, 200, first.body);
  t.match(first.json(), { decision: { action: "promote", from: null, to: { version: "0.60.0" } }, affected: { licensees: 0, byRelease: {} } });
  t.equal((await promote(h, "edge", { release: "0.60.0" })).statusCode, 200);
  t.same(applied(t, {}, first.json().valuesDiff), await servedValues(t, h, "edge"), "from nothing to what it serves");
});

await eachProvider(t, "a refused promotion or rollback is refused the same way with dryRun", async (t, provider) => {
  const h = await testApp(t, { provider });
  await createRelease(t, h, "0.61.0");
  t.equal((await call(h, "POST", "/releases/0.61.0/yank", { body: { reason: "broken" }, role: "release-engineer" })).statusCode, 200);
  const cases: [string, "promote" | "rollback", string, Record<string, unknown>][] = [
    ["stale expectedCurrent", "promote", "stable", { release: "0.60.0", expectedCurrent: "0.50.0" }],
    ["yanked release", "promote", "stable", { release: "0.61.0" }],
    ["not the from channel's release", "promote", "stable", { release: "0.60.0", from: "beta" }],
    ["downgrade without allowDowngrade", "promote", "unstable", { release: "0.58.1" }],
    ["unknown release", "promote", "stable", { release: "9.9.9" }],
    ["unknown channel", "promote", "nightly", { release: "0.60.0" }],
    ["unknown from channel", "promote", "stable", { release: "0.60.0", from: "nightly" }],
    ["rollback with no earlier release", "rollback", "stable", { reason: "x" }],
    ["rollback to a release never held", "rollback", "stable", { reason: "x", to: "0.57.0" }],
    ["rollback to a higher release", "rollback", "stable", { reason: "x", to: "0.60.0" }],
    ["rollback without a reason", "rollback", "stable", {}],
  ];
  const still = await everything(h);
  for (const [what, kind, channel, body] of cases) {
    const send = kind === "promote" ? promote : rollback;
    const real = await send(h, channel, body);
    const dry = await send(h, channel, { ...body, dryRun: true });
    t.not(real.statusCode, 200, `${what}: refused (${real.statusCode} ${real.json().code})`);
    t.equal(dry.statusCode, real.statusCode, `${what}: same status`);
    t.same(dry.json(), real.json(), `${what}: the same answer (code, field, message)`);
  }
  t.same(await everything(h), still, "no refusal wrote anything");
});

await eachProvider(t, "a dry run takes the roles of the move it previews", async (t, provider) => {
  const h = await testApp(t, { provider });
  const viewer = await promote(h, "stable", { release: "0.59.2", dryRun: true }, "viewer");
  t.equal(viewer.statusCode, 403, "viewer: promote dry run refused");
  t.equal((await rollback(h, "stable", { reason: "x", dryRun: true }, "viewer")).statusCode, 403, "viewer: rollback dry run refused");
  t.equal((await call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2", dryRun: true }, authorization: null })).statusCode, 401, "no token");
  t.equal((await promote(h, "stable", { release: "0.59.2", dryRun: true }, "admin")).statusCode, 200, "admin");
  t.equal((await promote(h, "stable", { release: "0.59.2", dryRun: true }, "release-engineer")).statusCode, 200, "release engineer");
});
