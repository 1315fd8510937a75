// Bad input on every admin body and query (docs/api.md §3: "Bad input gets 400
// with the field and the reason; unknown fields are refused"): mass
// assignment, wrong types, bad versions, charts, images, channel names,
// deep values, huge bodies, duplicates, bad cursors. Each refused request
// leaves the database exactly as it was.
import t from "tap";
import type { Test } from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { assertError, assertPlainError, call, counts, releaseBody, snapshot, type Method, type Snapshot } from "./fixtures/admin-helpers.js";
import type { Role } from "../../../src/admin/roles.js";

interface Target {
  method: Method;
  path: string;
  role: Role;
  /** A body the route accepts. */
  valid: Record<string, unknown>;
}

const TARGETS: Record<string, Target> = {
  createChannel: { method: "POST", path: "/channels", role: "admin", valid: { name: "newchan", description: "d", defaultValues: { a: 1 } } },
  patchChannel: { method: "PATCH", path: "/channels/stable", role: "admin", valid: { description: "d", defaultValues: { a: 1 } } },
  createRelease: { method: "POST", path: "/releases", role: "release-engineer", valid: releaseBody("7.0.0") },
  yank: { method: "POST", path: "/releases/0.58.1/yank", role: "release-engineer", valid: { reason: "r" } },
  promote: { method: "POST", path: "/channels/beta/promote", role: "release-engineer", valid: { release: "0.60.0", expectedCurrent: "0.59.2", allowDowngrade: false, reason: "r" } },
  // runs after promote (beta 0.59.2 → 0.60.0): back to the release beta held
  rollback: { method: "POST", path: "/channels/beta/rollback", role: "release-engineer", valid: { to: "0.59.2", reason: "r" } },
};

interface Case {
  name: string;
  target: keyof typeof TARGETS;
  body?: unknown;
  raw?: string;
  path?: string;
  status?: number;
  code?: string;
  /** The field the answer must name (exact, or a pattern); null: no field. */
  field: string | RegExp | null;
  reason?: RegExp;
}

function deep(levels: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: true };
  for (let i = 0; i < levels; i++) v = { a: v };
  return v;
}

const cases: Case[] = [];

// --- mass assignment: unknown fields on every body ---------------------------
const stored = ["id", "createdAt", "updatedAt", "rowVersion", "yankedAt", "yankedBy", "createdBy", "releaseId", "constructor", "toString", "prototype"];
for (const [target, def] of Object.entries(TARGETS)) {
  for (const key of stored) {
    if (Object.hasOwn(def.valid, key)) continue;
    cases.push({ name: `${target}: unknown field ${key}`, target, body: { ...def.valid, [key]: key === "constructor" ? {} : "x" }, field: key, reason: /not a known field/ });
  }
  const json = JSON.stringify(def.valid).slice(1, -1);
  cases.push({ name: `${target}: __proto__ (raw JSON)`, target, raw: `{${json},"__proto__":{"isAdmin":true}}`, field: "__proto__" });
  cases.push({ name: `${target}: __proto__ first (raw JSON)`, target, raw: `{"__proto__":{"rowVersion":99},${json}}`, field: "__proto__" });
  cases.push({ name: `${target}: constructor.prototype (raw JSON)`, target, raw: `{${json},"constructor":{"prototype":{"isAdmin":true}}}`, field: "constructor" });
  cases.push({ name: `${target}: not an object`, target, body: ["x"], field: "(body)" });
  cases.push({ name: `${target}: JSON null`, target, raw: "null", field: "(body)" });
  cases.push({ name: `${target}: broken JSON`, target, raw: "{\"a\":", code: "MALFORMED_BODY", field: "(body)" });
  cases.push({ name: `${target}: empty JSON body`, target, raw: "", field: "(body)" });
}
// nested unknown / prototype keys
cases.push({ name: "release values: __proto__ (raw JSON)", target: "createRelease", raw: JSON.stringify(releaseBody("7.0.1")).replace('"values":{', '"values":{"__proto__":{"x":1},'), field: "values.__proto__" });
cases.push({ name: "channel defaultValues: nested __proto__ (raw JSON)", target: "createChannel", raw: '{"name":"x1","defaultValues":{"global":{"__proto__":{"x":1}}}}', field: "defaultValues.global.__proto__" });
cases.push({ name: "release values: constructor key", target: "createRelease", body: { ...releaseBody("7.0.1"), values: { constructor: { x: 1 } } }, field: "values.constructor" });
cases.push({ name: "channel defaultValues: prototype key", target: "patchChannel", body: { defaultValues: { a: { prototype: 1 } } }, field: "defaultValues.a.prototype" });
cases.push({ name: "chart: unknown field", target: "createRelease", body: { ...releaseBody("7.0.1"), chart: { url: "https://charts.example.com", name: "c", version: "1.0.0", insecure: true } }, field: "chart.insecure" });
cases.push({ name: "image: unknown field", target: "createRelease", body: { ...releaseBody("7.0.1"), images: { app: { repository: "wandb/local", tag: "1", pullPolicy: "Always" } } }, field: "images.app.pullPolicy" });

// --- wrong types for every field ---------------------------------------------
const wrongTypes: [keyof typeof TARGETS, string, unknown[]][] = [
  ["createChannel", "name", [5, null, true, ["stable"], { x: 1 }]],
  ["createChannel", "description", [5, null, false, ["d"]]],
  ["createChannel", "defaultValues", ["x", 5, [], null, true]],
  ["patchChannel", "description", [5, null, {}]],
  ["patchChannel", "defaultValues", ["x", [], null]],
  ["createRelease", "version", [1, 1.2, null, ["1.0.0"], {}]],
  ["createRelease", "chart", ["https://charts.example.com", [], null, 5]],
  ["createRelease", "images", ["wandb/local:1", [], null, 5]],
  ["createRelease", "values", ["x", [], null, 5]],
  ["createRelease", "notes", [5, null, ["n"], {}]],
  ["yank", "reason", [5, null, true, [], {}]],
  ["promote", "release", [5, null, true, [], {}]],
  ["promote", "from", [5, null, true, []]],
  ["promote", "expectedCurrent", [5, true, [], {}]],
  ["promote", "allowDowngrade", ["true", 1, null, "yes"]],
  ["promote", "reason", [5, null, []]],
  ["rollback", "to", [5, null, true, []]],
  ["rollback", "reason", [5, null, true, []]],
];
for (const [target, field, values] of wrongTypes) {
  for (const v of values) cases.push({ name: `${target}: ${field} = ${JSON.stringify(v)}`, target, body: { ...TARGETS[target]!.valid, [field]: v }, field: new RegExp(`^${field}(\\.|$)`) });
}
// missing required fields
cases.push({ name: "createChannel: name missing", target: "createChannel", body: { description: "d" }, field: "name" });
cases.push({ name: "createRelease: version missing", target: "createRelease", body: { chart: { path: "x" } }, field: "version" });
cases.push({ name: "createRelease: chart missing", target: "createRelease", body: { version: "7.0.0" }, field: /^chart/ });
cases.push({ name: "yank: reason missing", target: "yank", body: {}, field: "reason" });
cases.push({ name: "yank: reason empty", target: "yank", body: { reason: "" }, field: "reason" });
cases.push({ name: "promote: release missing", target: "promote", body: { expectedCurrent: "0.59.2" }, field: "release" });
cases.push({ name: "promote: release empty", target: "promote", body: { release: "" }, field: "release" });
cases.push({ name: "rollback: reason missing", target: "rollback", body: { to: "0.59.2" }, field: "reason" });
cases.push({ name: "yank: reason too long", target: "yank", body: { reason: "x".repeat(1001) }, field: "reason" });
cases.push({ name: "createChannel: description with an escape character", target: "createChannel", body: { name: "esc", description: "a\u001b[31mred" }, field: "description", reason: /control characters.*U\+001B/ });
cases.push({ name: "createRelease: notes with a C1 control character", target: "createRelease", body: releaseBody("7.0.1", { notes: "a\u0085b" }), field: "notes", reason: /U\+0085/ });
cases.push({ name: "promote: release with a line break", target: "promote", body: { release: "0.60.0\n" }, field: "release", reason: /one line/ });
cases.push({ name: "createRelease: notes too long", target: "createRelease", body: releaseBody("7.0.1", { notes: "x".repeat(10_001) }), field: "notes" });

// --- versions ----------------------------------------------------------------
for (const version of ["v1.2.3", "1.2", "01.2.3", "1.02.3", "1.2.3.4", " 1.2.3", "1.2.3 ", "1", "latest", "", "1.2.3-", "1.2.3-01"]) {
  cases.push({ name: `createRelease: version ${JSON.stringify(version)}`, target: "createRelease", body: releaseBody(version), field: "version", reason: /SemVer|invalid|string/i });
}
for (const version of ["v0.20.0", "0.20"]) {
  cases.push({ name: `createRelease: chart.version ${version}`, target: "createRelease", body: releaseBody("7.0.1", { chart: { url: "https://charts.example.com", name: "operator-wandb", version } }), field: "chart.version" });
}

// --- charts ------------------------------------------------------------------
const charts: [string, unknown, string][] = [
  ["ftp:// URL", { url: "ftp://charts.example.com", name: "operator-wandb", version: "1.0.0" }, "chart.url"],
  ["file:// URL", { url: "file:///etc/passwd", name: "operator-wandb", version: "1.0.0" }, "chart.url"],
  ["oci:// without version", { url: "oci://registry.example.com/charts/operator-wandb" }, "chart.version"],
  ["oci:// with credentials", { url: "oci://user:pw@registry.example.com/charts/operator-wandb", version: "1.0.0" }, "chart.url"],
  ["https://user:pw@host", { url: "https://user:pw@charts.example.com", name: "operator-wandb", version: "1.0.0" }, "chart.url"],
  ["https://user@host", { url: "https://user@charts.example.com", name: "operator-wandb", version: "1.0.0" }, "chart.url"],
  ["https URL without a host", { url: "https://", name: "operator-wandb", version: "1.0.0" }, "chart.url"],
  ["not a URL", { url: "charts.example.com", name: "operator-wandb", version: "1.0.0" }, "chart.url"],
  ["repository chart without name", { url: "https://charts.example.com", version: "1.0.0" }, "chart.name"],
  ["repository chart with a bad name", { url: "https://charts.example.com", name: "Operator_Wandb!", version: "1.0.0" }, "chart.name"],
  ["repository chart without version", { url: "https://charts.example.com", name: "operator-wandb" }, "chart.version"],
  ["local chart with an empty path", { path: "" }, "chart.path"],
  // one-line fields refuse control characters (issue #13): WHATWG URL parsing would drop the newline and accept it
  ["https URL with a newline", { url: "https://charts.example.com/a\nb", name: "operator-wandb", version: "1.0.0" }, "chart.url"],
  ["oci URL with a tab", { url: "oci://registry.example.com/\tcharts", version: "1.0.0" }, "chart.url"],
  ["local chart path with a newline", { path: "charts/a\nb" }, "chart.path"],
  ["local chart path with DEL", { path: "charts/a\u007f" }, "chart.path"],
  ["empty chart", {}, "chart.path"],
];
for (const [name, chart, field] of charts) cases.push({ name: `createRelease: ${name}`, target: "createRelease", body: releaseBody("7.0.1", { chart }), field });

// --- images ------------------------------------------------------------------
const images: [string, unknown, string][] = [
  ["image without tag or digest", { app: { repository: "wandb/local" } }, "images.app.tag"],
  ["image with a bad digest", { app: { repository: "wandb/local", digest: "sha256:1234" } }, "images.app.digest"],
  ["image with a bad tag", { app: { repository: "wandb/local", tag: "has space" } }, "images.app.tag"],
  ["image without repository", { app: { tag: "1.0.0" } }, "images.app.repository"],
  ["image with an uppercase repository", { app: { repository: "WandB/Local", tag: "1" } }, "images.app.repository"],
  ["image not an object", { app: "wandb/local:1.0.0" }, "images.app"],
  ["bad component name", { "1app": { repository: "wandb/local", tag: "1" } }, "images.1app"],
  // the spec merges images into values, which skip prototype keys: refused, never silently dropped (issue #13)
  ["component named constructor", { constructor: { repository: "wandb/local", tag: "1" } }, "images.constructor"],
  ["component named prototype", { prototype: { repository: "wandb/local", tag: "1" } }, "images.prototype"],
];
for (const [name, imgs, field] of images) cases.push({ name: `createRelease: ${name}`, target: "createRelease", body: releaseBody("7.0.1", { images: imgs }), field });

// --- channel names -----------------------------------------------------------
const badNames = ["Stable", "STABLE", "1stable", "-stable", "sta_ble", "sta ble", "stable.", "", "a".repeat(64), "é"];
for (const name of badNames) {
  cases.push({ name: `createChannel: name ${JSON.stringify(name)}`, target: "createChannel", body: { name }, field: "name", reason: /\^\[a-z\]/ });
}
for (const name of ["Beta", "1beta", "a".repeat(64)]) {
  cases.push({ name: `promote: from ${JSON.stringify(name)}`, target: "promote", body: { release: "0.60.0", from: name }, field: "from" });
  cases.push({ name: `promote: channel in path ${name}`, target: "promote", path: `/channels/${name}/promote`, body: { release: "0.60.0" }, field: "name" });
  cases.push({ name: `patch: channel in path ${name}`, target: "patchChannel", path: `/channels/${name}`, body: { description: "x" }, field: "name" });
}

// --- deep values -------------------------------------------------------------
cases.push({ name: "createChannel: defaultValues 40 levels deep", target: "createChannel", body: { name: "deep", defaultValues: deep(40) }, field: /^defaultValues(\.a)+$/, reason: /nested too deeply/ });
cases.push({ name: "patchChannel: defaultValues 40 levels deep", target: "patchChannel", body: { defaultValues: deep(40) }, field: /^defaultValues(\.a)+$/, reason: /nested too deeply/ });
cases.push({ name: "createRelease: values 40 levels deep", target: "createRelease", body: releaseBody("7.0.1", { values: deep(40) }), field: /^values(\.a)+$/, reason: /nested too deeply/ });
cases.push({ name: "createRelease: values 40 arrays deep", target: "createRelease", raw: JSON.stringify(releaseBody("7.0.1", { values: { x: JSON.parse("[".repeat(40) + "]".repeat(40)) } })), field: /^values\.x/, reason: /nested too deeply/ });

// --- body too large ----------------------------------------------------------
const MiB = 1024 * 1024;
cases.push({ name: "createRelease: notes over 1 MiB", target: "createRelease", body: releaseBody("7.0.1", { notes: "x".repeat(MiB + 10) }), status: 413, code: "BODY_TOO_LARGE", field: null });
cases.push({ name: "createChannel: defaultValues over 1 MiB", target: "createChannel", body: { name: "huge", defaultValues: { blob: "y".repeat(MiB + 10) } }, status: 413, code: "BODY_TOO_LARGE", field: null });
cases.push({ name: "patchChannel: raw body over 1 MiB", target: "patchChannel", raw: `{"description":"${"z".repeat(MiB + 10)}"}`, status: 413, code: "BODY_TOO_LARGE", field: null });

async function runCase(t: Test, h: TestApp, c: Case, before: Snapshot) {
  const target = TARGETS[c.target]!;
  const res = await call(h, target.method, c.path ?? target.path, { role: target.role, ...(c.raw !== undefined ? { raw: c.raw } : { body: c.body }) });
  const status = c.status ?? 400;
  const code = c.code ?? "VALIDATION_FAILED";
  if (c.field === null) assertPlainError(t, res, status, code, c.name);
  else {
    const body = assertError(t, res, status, code, c.field, c.name);
    if (c.reason) t.match(body.reason, c.reason, `${c.name}: reason`);
  }
  t.same(await snapshot(h), before, `${c.name}: database unchanged`);
}

await eachProvider(t, "bad input on every body: 400 naming the field, nothing written", async (t, provider) => {
  const h = await testApp(t, { provider });
  const before = await snapshot(h);
  t.same(counts(before), { channels: 3, releases: 3, events: 3, audit: before.audit.length }, "seeded");
  for (const c of cases) await runCase(t, h, c, before);

  // the valid bodies are accepted (so every refusal above was about the one bad field)
  for (const [name, def] of Object.entries(TARGETS)) {
    const res = await call(h, def.method, def.path, { body: def.valid, role: def.role });
    t.ok(res.statusCode === 200 || res.statusCode === 201, `${name}: the valid body is accepted (${res.statusCode} ${res.statusCode >= 300 ? res.body : ""})`);
  }
});

await eachProvider(t, "wrong content type and odd requests", async (t, provider) => {
  const h = await testApp(t, { provider });
  const before = await snapshot(h);
  // Fastify parses text/plain as a string: not an object.
  const text = await call(h, "POST", "/channels", { raw: "name=x", contentType: "text/plain", role: "admin" });
  assertError(t, text, 400, "VALIDATION_FAILED", "(body)", "text/plain");
  const form = await call(h, "POST", "/channels", { raw: "name=x", contentType: "application/x-www-form-urlencoded", role: "admin" });
  assertPlainError(t, form, 415, "UNSUPPORTED_MEDIA_TYPE");
  const noBody = await call(h, "POST", "/channels", { role: "admin" });
  t.equal(noBody.statusCode, 400, "no body at all");
  t.equal(noBody.json().code, "VALIDATION_FAILED");
  const charset = await call(h, "POST", "/channels", { raw: '{"name":"withcharset"}', contentType: "application/json; charset=utf-8", role: "admin" });
  t.equal(charset.statusCode, 201, "application/json with a charset is JSON");
  const after = await snapshot(h);
  t.equal(after.channels.length, before.channels.length + 1, "only the valid one was written");
});

await eachProvider(t, "duplicates: 409 and nothing written", async (t, provider) => {
  const h = await testApp(t, { provider });
  const before = await snapshot(h);

  const dupRelease = await call(h, "POST", "/releases", { body: releaseBody("0.58.1"), role: "release-engineer" });
  assertError(t, dupRelease, 409, "RELEASE_EXISTS", "version", "duplicate release");
  t.same(await snapshot(h), before, "duplicate release: database unchanged");
  const stored = await call(h, "GET", "/releases/0.58.1", { role: "viewer" });
  t.equal(stored.json().notes, "W&B Server 0.58.1 (operator-wandb chart 0.17.4).", "the stored release is untouched (immutable)");

  const dupChannel = await call(h, "POST", "/channels", { body: { name: "stable", description: "hijack" }, role: "admin" });
  assertError(t, dupChannel, 409, "CHANNEL_EXISTS", "name", "duplicate channel");
  t.same(await snapshot(h), before, "duplicate channel: database unchanged");

  // created once, then refused the second time
  const first = await call(h, "POST", "/releases", { body: releaseBody("3.0.0"), role: "release-engineer" });
  t.equal(first.statusCode, 201);
  const mid = await snapshot(h);
  t.same(counts(mid), { ...counts(before), releases: counts(before).releases + 1, audit: counts(before).audit + 1 }, "one release, one audit row");
  const second = await call(h, "POST", "/releases", { body: releaseBody("3.0.0", { notes: "changed" }), role: "release-engineer" });
  assertError(t, second, 409, "RELEASE_EXISTS", "version", "second create");
  t.same(await snapshot(h), mid, "second create: database unchanged");

  const ch1 = await call(h, "POST", "/channels", { body: { name: "lts" }, role: "admin" });
  t.equal(ch1.statusCode, 201);
  const mid2 = await snapshot(h);
  const ch2 = await call(h, "POST", "/channels", { body: { name: "lts" }, role: "admin" });
  assertError(t, ch2, 409, "CHANNEL_EXISTS", "name", "second channel create");
  t.same(await snapshot(h), mid2, "second channel create: database unchanged");

  // unknown targets
  assertPlainError(t, await call(h, "PATCH", "/channels/nosuch", { body: { description: "x" }, role: "admin" }), 404, "CHANNEL_NOT_FOUND");
  assertPlainError(t, await call(h, "GET", "/channels/nosuch", { role: "viewer" }), 404, "CHANNEL_NOT_FOUND");
  assertPlainError(t, await call(h, "GET", "/channels/nosuch/history", { role: "viewer" }), 404, "CHANNEL_NOT_FOUND");
  assertPlainError(t, await call(h, "GET", "/releases/9.9.9", { role: "viewer" }), 404, "RELEASE_NOT_FOUND");
  t.same(await snapshot(h), mid2, "lookups changed nothing");
});

await eachProvider(t, "bad cursors and page sizes: 400, never a 500", async (t, provider) => {
  const h = await testApp(t, { provider });
  const before = await snapshot(h);
  const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");
  const lists = ["/releases", "/channels/stable/history", "/audit"];
  const badCursors = ["!!!", "abc", "%00", "x".repeat(201), b64("x|y"), b64("not a number"), b64("-1"), b64("1.5"), b64("99999999999"), b64("2147483648"), b64("2020-01-01T00:00:00.000Z"), b64("+275760-09-13T00:00:00.000Z|x"), b64("-271821-04-20T00:00:00.000Z|x"), b64("1|2|3")];
  for (const list of lists) {
    for (const cursor of badCursors) {
      const res = await call(h, "GET", `${list}?limit=1&cursor=${encodeURIComponent(cursor)}`, { role: "viewer" });
      const what = `${list} cursor ${JSON.stringify(cursor.slice(0, 40))}`;
      t.not(res.statusCode, 500, `${what}: never a 500`);
      assertError(t, res, 400, "VALIDATION_FAILED", "cursor", what);
    }
    for (const q of ["limit=0", "limit=201", "limit=-1", "limit=abc", "limit=1.5", "page=2", "limit=1&limit=2"]) {
      const res = await call(h, "GET", `${list}?${q}`, { role: "viewer" });
      const body = assertError(t, res, 400, "VALIDATION_FAILED", /^(limit|page|\(body\))$/, `${list}?${q}`);
      t.ok(body.field, `${list}?${q}: names a field`);
    }
  }
  t.same(await snapshot(h), before, "nothing written");
});
