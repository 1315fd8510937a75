// The chartroom CLI end to end: main() is called in-process with an
// injected environment and captured output, against a real server listening
// on a port (testApp + listen), or against a fresh SQLite database for the
// local commands. One test spawns bin/chartroom.js to prove the shim.
import { execFile } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type RequestListener } from "node:http";
import { createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { createVerifier } from "fast-jwt";
import t, { type Test } from "tap";
import YAML from "yaml";
import { readMigrations } from "../../src/db/migrate.js";
import { ensureDevKeys } from "../../src/licensing/license-keys.js";
import { ROOT, claims, rows, run, serve } from "./fixtures/cli-harness.js";
import { ADMIN_SECRET, CHANNELS_DIR } from "../helpers/app.js";
import { releaseBody } from "../routes/admin/fixtures/admin-helpers.js";

/** A TCP port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** A stand-in HTTP server (not Chartroom) on a free port, closed at the end of the test; its URL. */
async function standIn(t: Test, handler: RequestListener): Promise<string> {
  const srv = createHttpServer(handler);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    srv.closeAllConnections();
    srv.close();
  });
  return `http://127.0.0.1:${(srv.address() as { port: number }).port}`;
}

function count(dbFile: string, table: string): number {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM "${table}"`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

const RELEASE_YAML = `# a new release
version: 0.61.0
chart:
  url: https://charts.wandb.ai
  name: operator-wandb
  version: 0.19.2
images:
  app:
    repository: wandb/local
    tag: 0.61.0
values:
  weave:
    install: true
notes: W&B Server 0.61.0
`;

t.test("help and usage errors", async (t) => {
  for (const argv of [[], ["help"], ["--help"]]) {
    const r = await run(argv, {});
    t.equal(r.code, 0, `${JSON.stringify(argv)} exits 0`);
    for (const cmd of ["token", "license dev", "channels", "channel NAME", "releases", "release show", "release create", "promote", "rollback", "yank", "history", "audit", "migrate", "apply DIR"]) {
      t.match(r.stdout, `chartroom ${cmd}`, `usage lists ${cmd}`);
    }
  }
  const one = await run(["promote", "--help"], {});
  t.equal(one.code, 0);
  t.match(one.stdout, /^usage: chartroom promote VERSION --to CHANNEL/);

  const bad: [string[], RegExp][] = [
    [["frobnicate"], /unknown command "frobnicate"/],
    [["release", "delete", "1.0.0"], /unknown command "release delete".*release show/],
    [["promote", "1.0.0"], /--to CHANNEL is required/],
    [["promote"], /missing VERSION/],
    [["channel"], /missing NAME/],
    [["channels", "extra"], /unexpected argument "extra"/],
    [["releases", "--limit", "abc"], /--limit must be a whole number/],
    [["releases", "--limit", "500"], /--limit must be a whole number/],
    [["yank", "1.0.0"], /--reason TEXT is required/],
    [["rollback", "beta"], /--reason TEXT is required/],
    [["yank", "1.0.0", "--reason", "x", "--force"], /Unknown option '--force'/],
    [["token", "--sub", "a"], /--role is required/],
    [["token", "--role", "admin"], /--sub NAME is required/],
    [["token", "--sub", "a", "--role", "admin", "--ttl", "forever"], /ttl "forever"/],
    [["channels", "--url", "ftp://example.com"], /http:\/\/ or https:\/\//],
    [["channels", "--url", "http://user:pw@example.com"], /must not contain credentials/],
  ];
  for (const [argv, msg] of bad) {
    const r = await run(argv, { ADMIN_JWT_SECRET: ADMIN_SECRET });
    t.equal(r.code, 2, `${argv.join(" ")} is a usage error`);
    t.match(r.stderr, msg, `${argv.join(" ")} says why`);
    t.equal(r.stdout, "", `${argv.join(" ")} prints nothing on stdout`);
  }
  // A bad environment is reported as configuration, with exit 2.
  const cfg = await run(["token", "--sub", "a", "--role", "admin"], { ADMIN_JWT_SECRET: "too-short" });
  t.equal(cfg.code, 2);
  t.match(cfg.stderr, /configuration: ADMIN_JWT_SECRET: must be at least 32 characters/);
  t.notMatch(cfg.stderr, /too-short/, "the secret is not echoed");
  const badDb = await run(["migrate"], { DATABASE_URL: "mysql://app:hunter2@db.example.com/x" });
  t.equal(badDb.code, 2);
  t.match(badDb.stderr, /configuration: DATABASE_URL: must be file:PATH .*mysql:\/\/app:\*\*\*@db\.example\.com/);
  t.notMatch(badDb.stderr, "hunter2", "the database password is not echoed");
});

t.test("token mints admin tokens the server accepts", async (t) => {
  const { url } = await serve(t);
  const env = { ADMIN_JWT_SECRET: ADMIN_SECRET };

  const viewer = await run(["token", "--sub", "vera@example.com", "--role", "viewer", "--ttl", "10m"], env);
  t.equal(viewer.code, 0);
  t.match(viewer.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, "the token only, one line");
  const token = viewer.stdout.trim();
  const c = claims(token);
  t.equal(c.sub, "vera@example.com");
  t.same(c.roles, ["viewer"]);
  t.equal(c.aud, "chartroom-admin");
  t.ok(Math.abs((c.exp as number) - (c.iat as number) - 600) <= 1, "ttl 10m");

  const ok = await fetch(`${url}/api/v1/admin/channels`, { headers: { authorization: `Bearer ${token}` } });
  t.equal(ok.status, 200, "the server accepts it");
  const denied = await fetch(`${url}/api/v1/admin/releases/0.58.1/yank`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ reason: "x" }),
  });
  t.equal(denied.status, 403, "a viewer token cannot yank");

  const two = await run(["token", "--sub", "rel", "--role", "viewer", "--role", "release-engineer", "--json"], env);
  t.equal(two.code, 0);
  const j = JSON.parse(two.stdout) as { token: string; roles: string[]; expiresAt: string };
  t.same(claims(j.token).roles, ["viewer", "release-engineer"]);
  t.ok(Date.parse(j.expiresAt) - Date.now() > 3500_000 && Date.parse(j.expiresAt) - Date.now() <= 3600_000, "default ttl 1h");

  const unknown = await run(["token", "--sub", "x", "--role", "root"], env);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown role "root"/);
  t.equal(unknown.stdout, "");
});

t.test("token with no keys configured uses the development secret in DATA_DIR", async (t) => {
  const dataDir = t.testdir({});
  // No server has made keys there: refused, and nothing is created.
  for (const [argv, env] of [
    [["token", "--sub", "dev", "--role", "admin"], { DATA_DIR: dataDir }],
    [["license", "dev", "--sub", "dev"], { DATA_DIR: dataDir }],
    [["token", "--sub", "dev", "--role", "admin", "--data-dir", dataDir], {}],
    [["console", "--sub", "dev", "--role", "admin", "--data-dir", dataDir], {}],
  ] as const) {
    const none = await run([...argv], env);
    t.equal(none.code, 1, `${argv.join(" ")}: refused`);
    t.match(none.stderr, `error: no development keys in ${join(dataDir, "keys")}`, `${argv.join(" ")}: says where it looked`);
    t.match(none.stderr, /chartroom never makes its own.*--data-dir DIR or DATA_DIR=DIR/);
    t.equal(none.stdout, "");
    t.notOk(existsSync(join(dataDir, "keys")), `${argv.join(" ")}: no keys created`);
  }

  // The keys a server made (src/licensing/license-keys.ts, as at its first start).
  ensureDevKeys(dataDir);
  const r = await run(["token", "--sub", "dev", "--role", "admin"], { DATA_DIR: dataDir });
  t.equal(r.code, 0, r.stderr);
  t.equal(r.stderr, `note: using the development keys in ${join(dataDir, "keys")} (DATA_DIR); only a server started with DATA_DIR=${dataDir} and no keys configured accepts what they sign\n`, "says which keys");
  const viaFlag = await run(["token", "--sub", "dev", "--role", "admin", "--data-dir", dataDir], {});
  t.equal(viaFlag.code, 0, viaFlag.stderr);
  t.match(viaFlag.stderr, "(--data-dir)");
  const lic = await run(["license", "dev", "--sub", "dev", "--data-dir", dataDir], {});
  t.equal(lic.code, 0, lic.stderr);
  t.match(lic.stderr, `development keys in ${join(dataDir, "keys")}`);
  const secretFile = join(dataDir, "keys", "admin-jwt-secret");
  const secret = readFileSync(secretFile, "utf8").trim();
  const payload = createVerifier({ key: secret, algorithms: ["HS256"], allowedAud: "chartroom-admin" })(r.stdout.trim()) as { sub: string; roles: string[] };
  t.equal(payload.sub, "dev");
  t.same(payload.roles, ["admin"]);
  t.throws(() => createVerifier({ key: ADMIN_SECRET, algorithms: ["HS256"] })(r.stdout.trim()), "not signed with another secret");

  // An identity provider's JWKS: nothing to mint with.
  const idp = await run(["token", "--sub", "dev", "--role", "admin"], { DATA_DIR: dataDir, ADMIN_JWKS_FILE: join(dataDir, "idp.json") });
  t.equal(idp.code, 1);
  t.match(idp.stderr, /identity provider/);
  t.equal(idp.stdout, "");
});

t.test("license dev mints a license the server serves", async (t) => {
  const { h, url } = await serve(t);
  const env = { ADMIN_JWT_SECRET: ADMIN_SECRET, LICENSE_SIGNING_KEY_FILE: join(h.dataDir, "license-key.pem") };

  const r = await run(["license", "dev", "--sub", "customer-9", "--channel", "beta", "--ttl", "2d"], env);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  const lic = r.stdout.trim();
  const c = claims(lic);
  t.equal(c.sub, "customer-9");
  t.equal(c.channel, "beta");
  t.match(c.jti, /^[0-9a-f-]{36}$/);
  t.ok(Math.abs((c.exp as number) - (c.iat as number) - 2 * 86400) <= 1, "ttl 2d");
  t.equal(c.iss, undefined, "no issuer configured, none claimed");

  const res = await fetch(`${url}/api/v1/operator/channel`, { headers: { authorization: `Basic ${Buffer.from(`license:${lic}`).toString("base64")}` } });
  t.equal(res.status, 200, "the server accepts the license");
  const spec = (await res.json()) as { metadata: { channel: string; version: string } };
  t.equal(spec.metadata.channel, "beta");
  t.equal(spec.metadata.version, "0.59.2");

  const again = await run(["license", "dev", "--sub", "customer-9"], { ...env, LICENSE_ISSUER: "https://licenses.example.com", LICENSE_AUDIENCE: "chartroom" });
  t.equal(again.code, 0);
  const c2 = claims(again.stdout.trim());
  t.equal(c2.channel, "stable", "default channel");
  t.equal(c2.iss, "https://licenses.example.com");
  t.equal(c2.aud, "chartroom");
  t.not(c2.jti, c.jti, "a fresh jti each time");

  const badChannel = await run(["license", "dev", "--sub", "x", "--channel", "Not_A_Channel"], env);
  t.equal(badChannel.code, 2);
  t.match(badChannel.stderr, /not a channel name/);

  const noKey = await run(["license", "dev", "--sub", "x"], { ADMIN_JWT_SECRET: ADMIN_SECRET });
  t.equal(noKey.code, 1);
  t.match(noKey.stderr, /no license signing key/);
  t.equal(noKey.stdout, "");
});

t.test("release workflow over HTTP", async (t) => {
  const { h, url } = await serve(t);
  const engineer = h.adminToken("release-engineer", "cli-engineer@example.com");
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: engineer };
  const current = async (channel: string) => ((await h.admin("GET", `/channels/${channel}`)).json() as { release: { version: string } | null }).release?.version;

  // channels: aligned table with each channel's release
  const ch = await run(["channels"], env);
  t.equal(ch.code, 0, ch.stderr);
  const table = rows(ch.stdout);
  t.same(table[0], ["NAME", "RELEASE", "UPDATED", "DESCRIPTION"]);
  t.same(table.slice(1).map((r) => [r[0], r[1]]), [["beta", "0.59.2"], ["stable", "0.58.1"], ["unstable", "0.60.0"]]);
  t.match(table[2]![2]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "UPDATED is a time");
  t.equal(table[2]![3], "Production releases, promoted from beta after soak.");
  const lines = ch.stdout.trimEnd().split("\n");
  t.same(new Set(lines.map((l, i) => l.indexOf(table[i]![1]!))), new Set([lines[0]!.indexOf("RELEASE")]), "the RELEASE column is aligned");
  t.ok(lines.every((l) => l === l.trimEnd()), "no trailing blanks");

  const json = await run(["channels", "--json"], env);
  t.equal(json.code, 0);
  const parsed = JSON.parse(json.stdout) as { items: { name: string; release: { version: string } }[] };
  t.same(parsed.items.map((c) => `${c.name}=${c.release.version}`), ["beta=0.59.2", "stable=0.58.1", "unstable=0.60.0"]);

  // release create from a YAML file
  // (not t.testdir: the server's database lives in this test's testdir)
  const dir = join(h.dataDir, "release-files");
  mkdirSync(dir);
  writeFileSync(join(dir, "0.61.0.yaml"), RELEASE_YAML);
  writeFileSync(join(dir, "broken.yaml"), "version: [1, 2");
  writeFileSync(join(dir, "bad-chart.json"), JSON.stringify({ version: "0.62.0", chart: { url: "ftp://x", name: "c", version: "1.0.0" } }));
  const created = await run(["release", "create", join(dir, "0.61.0.yaml")], env);
  t.equal(created.code, 0, created.stderr);
  t.match(created.stdout, /^created release 0\.61\.0 \(id [0-9a-f-]{36}\)\n$/);
  const stored = (await h.admin("GET", "/releases/0.61.0")).json() as { version: string; createdBy: string; images: Record<string, { tag: string }> };
  t.equal(stored.createdBy, "cli-engineer@example.com");
  t.equal(stored.images.app!.tag, "0.61.0");

  const dup = await run(["release", "create", join(dir, "0.61.0.yaml")], env);
  t.equal(dup.code, 1);
  t.match(dup.stderr, /^error: RELEASE_EXISTS: release 0\.61\.0 already exists/);
  t.match(dup.stderr, /\nfield: version\n/);

  const badChart = await run(["release", "create", join(dir, "bad-chart.json")], env);
  t.equal(badChart.code, 1);
  t.match(badChart.stderr, /^error: VALIDATION_FAILED: /);
  t.match(badChart.stderr, /field: chart\.url/);
  const broken = await run(["release", "create", join(dir, "broken.yaml")], env);
  t.equal(broken.code, 2);
  t.match(broken.stderr, /not valid YAML/);
  const missing = await run(["release", "create", join(dir, "nope.yaml")], env);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /nope\.yaml: cannot be read \(ENOENT\)/);

  const shown = await run(["release", "show", "0.61.0"], env);
  t.equal(shown.code, 0);
  t.match(shown.stdout, /^version: +0\.61\.0$/m);
  t.match(shown.stdout, /^chart: +operator-wandb 0\.19\.2 \(https:\/\/charts\.wandb\.ai\)$/m);
  t.match(shown.stdout, /^ {2}app +wandb\/local +0\.61\.0 +-$/m);
  const notFound = await run(["release", "show", "9.9.9"], env);
  t.equal(notFound.code, 1);
  t.match(notFound.stderr, /^error: RELEASE_NOT_FOUND: release 9\.9\.9 does not exist\n$/);

  // promote to unstable, then to beta from unstable
  const p1 = await run(["promote", "0.61.0", "--to", "unstable", "--reason", "CI green"], env);
  t.equal(p1.code, 0, p1.stderr);
  t.equal(p1.stdout, "channel unstable promoted to 0.61.0 (was 0.60.0)\n");
  t.equal(await current("unstable"), "0.61.0");

  const p2 = await run(["promote", "0.61.0", "--to", "beta", "--from", "unstable", "--expect", "0.59.2"], env);
  t.equal(p2.code, 0, p2.stderr);
  t.equal(await current("beta"), "0.61.0");

  const again = await run(["promote", "0.61.0", "--to", "beta", "--json"], env);
  t.equal(again.code, 0);
  t.equal((JSON.parse(again.stdout) as { changed: boolean }).changed, false, "promoting the current release again changes nothing");

  // wrong --expect: 409 PROMOTION_CONFLICT, nothing moves
  const conflict = await run(["promote", "0.61.0", "--to", "stable", "--expect", "0.57.0"], env);
  t.equal(conflict.code, 1);
  t.match(conflict.stderr, /^error: PROMOTION_CONFLICT: channel stable is at 0\.58\.1, not 0\.57\.0\nfield: expectedCurrent\n/);
  t.equal(conflict.stdout, "");
  t.equal(await current("stable"), "0.58.1");
  const expectNone = await run(["promote", "0.61.0", "--to", "stable", "--expect", "none"], env);
  t.equal(expectNone.code, 1);
  t.match(expectNone.stderr, /PROMOTION_CONFLICT: channel stable is at 0\.58\.1, not no release/);

  const notFrom = await run(["promote", "0.61.0", "--to", "stable", "--from", "stable"], env);
  t.equal(notFrom.code, 1);
  t.match(notFrom.stderr, /^error: PROMOTION_REFUSED: .*\nfield: from\n/);

  const down = await run(["promote", "0.58.1", "--to", "unstable"], env);
  t.equal(down.code, 1);
  t.match(down.stderr, /DOWNGRADE_REFUSED/);
  t.notMatch(down.stderr, /allowDowngrade/, "the API's field name is not what a CLI user types");
  t.match(down.stderr, /\nhint: .*pass --allow-downgrade, or .*chartroom rollback CHANNEL --reason TEXT\n$/, "the remedy in the CLI's words");
  t.equal(await current("unstable"), "0.61.0");

  // rollback beta to the release before
  const rb = await run(["rollback", "beta", "--reason", "crash loop in 0.61.0"], env);
  t.equal(rb.code, 0, rb.stderr);
  t.equal(rb.stdout, "channel beta rolled back to 0.59.2 (was 0.61.0)\n");
  t.equal(await current("beta"), "0.59.2");

  // yank, then it can no longer be promoted
  const y = await run(["yank", "0.61.0", "--reason", "crash loop"], env);
  t.equal(y.code, 0, y.stderr);
  t.equal(y.stdout, "yanked release 0.61.0: crash loop\nstill serving 0.61.0: unstable\nnext: roll it back (chartroom rollback unstable --reason …), or yank with --rollback next time\n");
  t.equal(((await h.admin("GET", "/releases/0.61.0")).json() as { yanked: boolean }).yanked, true);

  const yankedTwice = await run(["yank", "0.61.0", "--reason", "again"], env);
  t.equal(yankedTwice.code, 1);
  t.match(yankedTwice.stderr, /RELEASE_YANKED/);
  const promoteYanked = await run(["promote", "0.61.0", "--to", "stable"], env);
  t.equal(promoteYanked.code, 1);
  t.match(promoteYanked.stderr, /^error: RELEASE_YANKED: /);

  const rel = await run(["releases"], env);
  t.equal(rel.code, 0);
  const relRows = rows(rel.stdout);
  t.same(relRows[0], ["VERSION", "CHART", "CREATED", "YANKED"]);
  t.same(relRows.slice(1).map((r) => r[0]), ["0.61.0", "0.60.0", "0.59.2", "0.58.1"], "newest first");
  t.match(relRows[1]![3], /^yes/);
  t.equal(relRows[2]![3], "no");

  const page1 = await run(["releases", "--limit", "2", "--json"], env);
  const p1json = JSON.parse(page1.stdout) as { items: { version: string }[]; nextCursor: string };
  t.same(p1json.items.map((r) => r.version), ["0.61.0", "0.60.0"]);
  t.type(p1json.nextCursor, "string");
  const page2 = await run(["releases", "--limit", "2", "--cursor", p1json.nextCursor], env);
  t.same(rows(page2.stdout).slice(1).map((r) => r[0]), ["0.59.2", "0.58.1"], "the cursor pages on");
  const paged = await run(["releases", "--limit", "2"], env);
  t.match(paged.stderr, /more: chartroom releases --limit 2 --cursor \S+/, "the next page is hinted on stderr");

  // history: newest first
  const hist = await run(["history", "beta"], env);
  t.equal(hist.code, 0);
  const hr = rows(hist.stdout);
  t.same(hr[0], ["TIME", "ACTION", "FROM", "TO", "ACTOR", "REASON"]);
  t.same(hr.slice(1).map((r) => [r[1], r[2], r[3]]), [["rollback", "0.61.0", "0.59.2"], ["promote", "0.59.2", "0.61.0"], ["declare", "-", "0.59.2"]]);
  t.equal(hr[1]![4], "cli-engineer@example.com");
  t.equal(hr[1]![5], "crash loop in 0.61.0");
  const hist1 = await run(["history", "beta", "--limit", "1", "--json"], env);
  t.same((JSON.parse(hist1.stdout) as { items: { action: string }[] }).items.map((e) => e.action), ["rollback"]);
  const noChannel = await run(["history", "nightly"], env);
  t.equal(noChannel.code, 1);
  t.match(noChannel.stderr, /^error: CHANNEL_NOT_FOUND: channel nightly does not exist\n$/);

  const one = await run(["channel", "beta"], env);
  t.equal(one.code, 0);
  t.match(one.stdout, /^release: +0\.59\.2$/m);
  t.match(one.stdout, /^ {2}mysql:\n {4}install: false$/m, "default values as YAML");
  t.match(one.stdout, /recent history:\nTIME +ACTION.*\n.*rollback +0\.61\.0 +0\.59\.2/);

  // audit: the actor of every change
  const au = await run(["audit", "--limit", "3"], env);
  t.equal(au.code, 0);
  const ar = rows(au.stdout);
  t.same(ar[0], ["TIME", "ACTOR", "ACTION", "TARGET", "CHANGE", "REASON", "REQUEST"]);
  t.same(ar.slice(1).map((r) => [r[1], r[2], r[3]]), [
    ["cli-engineer@example.com", "release.yank", "release/0.61.0"],
    ["cli-engineer@example.com", "channel.rollback", "channel/beta"],
    ["cli-engineer@example.com", "channel.promote", "channel/beta"],
  ]);
  // what changed and why: before → after, the reason
  t.match(au.stdout, /channel\.rollback +channel\/beta +release: 0\.61\.0 → 0\.59\.2 +\S/, "the rollback's before → after");
  // --target as the TARGET column prints it
  const byTarget = await run(["audit", "--target", "release/0.61.0"], env);
  t.equal(byTarget.code, 0, byTarget.stderr);
  const tr = rows(byTarget.stdout).slice(1);
  t.ok(tr.length >= 2, "release/0.61.0 finds its entries");
  t.ok(tr.every((r) => r[3] === "release/0.61.0"), "and only those");
  t.same(tr.map((r) => r[2]), ["release.yank", "release.create"]);
  const typeClash = await run(["audit", "--target", "release/0.61.0", "--target-type", "channel"], env);
  t.equal(typeClash.code, 2);
  t.match(typeClash.stderr, /names a release, but --target-type is channel/);
  // an action the audit never records: the actions it does
  const bogus = await run(["audit", "--action", "bogus"], env);
  t.equal(bogus.code, 2);
  t.match(bogus.stderr, /^error: no audit entries with action "bogus", which is not an action the audit records; the actions are channel\.create, .*release\.yank/);
  t.equal(bogus.stdout, "");
  const typo = await run(["audit", "--action", "release.ynak"], env);
  t.match(typo.stderr, /did you mean "release\.yank"\?/);
  const auJson = await run(["audit", "--action", "release.create", "--json"], env);
  const created2 = JSON.parse(auJson.stdout) as { items: { actor: string; target: string }[] };
  t.same(created2.items.map((a) => `${a.actor} ${a.target}`).slice(0, 1), ["cli-engineer@example.com 0.61.0"]);

  // --url beats CHARTROOM_URL
  const viaFlag = await run(["channels", "--url", url], { CHARTROOM_TOKEN: engineer, CHARTROOM_URL: "http://127.0.0.1:9" });
  t.equal(viaFlag.code, 0);
});

t.test("auth failures never print the token", async (t) => {
  const { h, url } = await serve(t);
  const viewer = h.adminToken("viewer", "viewer@example.com");
  const r = await run(["yank", "0.58.1", "--reason", "x"], { CHARTROOM_URL: url, CHARTROOM_TOKEN: viewer });
  t.equal(r.code, 1);
  t.match(r.stderr, /^error: ROLE_REQUIRED: this action needs the release-engineer role\n/);
  t.notMatch(r.stderr, viewer);

  const forged = `${viewer.slice(0, -4)}AAAA`;
  const bad = await run(["channels"], { CHARTROOM_URL: url, CHARTROOM_TOKEN: forged });
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^error: ADMIN_UNAUTHORIZED: /);
  t.match(bad.stderr, /hint: CHARTROOM_TOKEN was refused/);
  t.notMatch(bad.stderr, forged);
  t.notMatch(bad.stderr, forged.split(".")[2]!, "not even the signature");

  // Even a server that echoes the Authorization header in its error cannot
  // get the token printed.
  const echo = await standIn(t, (req, res) =>
    res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ code: "ECHO", message: `you sent ${req.headers.authorization}` })),
  );
  const echoed = await run(["channels"], { CHARTROOM_URL: echo, CHARTROOM_TOKEN: viewer });
  t.equal(echoed.code, 1);
  t.equal(echoed.stderr, "error: ECHO: you sent Bearer [redacted]\n");

  const none = await run(["channels"], { CHARTROOM_URL: url });
  t.equal(none.code, 1);
  t.match(none.stderr, /ADMIN_UNAUTHORIZED[\s\S]*hint: set CHARTROOM_TOKEN/);

});

t.test("server down: exit 3 naming the URL", async (t) => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}`;
  for (const argv of [["channels"], ["promote", "1.0.0", "--to", "beta"], ["audit", "--json"]]) {
    const r = await run(argv, { CHARTROOM_URL: url, CHARTROOM_TOKEN: "some-token-value-123456" });
    t.equal(r.code, 3, `${argv[0]} exits 3`);
    t.match(r.stderr, `error: cannot reach Chartroom at ${url}: ECONNREFUSED`);
    t.notMatch(r.stderr, "some-token-value-123456");
    t.equal(r.stdout, "");
  }
  // Something answering, but not Chartroom: exit 1, not a crash.
  const gateway = await standIn(t, (_req, res) => res.writeHead(502, { "content-type": "text/html" }).end("<h1>bad gateway</h1>"));
  const other = await run(["channels"], { CHARTROOM_URL: gateway });
  t.equal(other.code, 1);
  t.match(other.stderr, /NOT_CHARTROOM: HTTP 502 .* is not JSON/);
});

t.test("migrate applies once, then nothing", async (t) => {
  const dir = t.testdir({});
  const env = { DATABASE_URL: `file:${join(dir, "m.db")}`, DATA_DIR: dir };
  const all = readMigrations("sqlite").length;
  t.ok(all >= 2, "more than one migration to apply");
  const first = await run(["migrate"], env);
  t.equal(first.code, 0, first.stderr);
  t.match(first.stdout, /^applied \d{14}_init\n/);
  t.match(first.stdout, new RegExp(`${all} migration\\(s\\) applied`));
  t.equal(count(join(dir, "m.db"), "_prisma_migrations"), all);
  const second = await run(["migrate"], env);
  t.equal(second.code, 0);
  t.match(second.stdout, new RegExp(`^no pending migrations \\(${all} already applied`));
  t.notMatch(second.stdout, /^applied/m);
  const asJson = await run(["migrate", "--json"], env);
  const j = JSON.parse(asJson.stdout) as { applied: string[]; alreadyApplied: number };
  t.same(j.applied, []);
  t.equal(j.alreadyApplied, all);
  t.equal(count(join(dir, "m.db"), "_prisma_migrations"), all);

  const down = await run(["migrate"], { DATABASE_URL: `postgresql://chartroom:s3cret-pw@127.0.0.1:${await closedPort()}/x` });
  t.equal(down.code, 3, "database unreachable: exit 3");
  t.match(down.stderr, /cannot reach the database at postgresql:\/\/chartroom:\*\*\*@127\.0\.0\.1/);
  t.notMatch(down.stderr, "s3cret-pw", "the password is not printed");
});

t.test("apply: dry run writes nothing, apply creates, a second apply is a no-op", async (t) => {
  const dir = t.testdir({});
  const dbFile = join(dir, "apply.db");
  const env = { DATABASE_URL: `file:${dbFile}`, DATA_DIR: join(dir, "data") };

  const dry = await run(["apply", CHANNELS_DIR, "--dry-run"], env);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /dry run: nothing was written/);
  const steps = rows(dry.stdout.split("\n").slice(1).join("\n"));
  t.same(steps[0], ["ACTION", "TARGET", "FILE", "DETAIL"]);
  t.same(steps.slice(1).map((s) => `${s[0]} ${s[1]}`), [
    "create-release 0.58.1",
    "create-release 0.59.2",
    "create-release 0.60.0",
    // A channel after its policy's upstream: unstable → beta → stable.
    "create-channel unstable",
    "move-channel unstable",
    "create-channel beta",
    "move-channel beta",
    "create-channel stable",
    "move-channel stable",
  ]);
  t.equal(count(dbFile, "Release"), 0, "dry run: no release written");
  t.equal(count(dbFile, "Channel"), 0, "dry run: no channel written");
  t.equal(count(dbFile, "AuditEntry"), 0, "dry run: no audit written");
  t.notOk(existsSync(join(dir, "data", "keys")), "apply makes no development keys");

  const real = await run(["apply", CHANNELS_DIR], env);
  t.equal(real.code, 0, real.stderr);
  t.match(real.stdout, new RegExp(`^applied ${CHANNELS_DIR.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} as cli:${userInfo().username}, 9 step\\(s\\)`));
  t.same(rows(real.stdout.split("\n").slice(1).join("\n")).slice(1).map((s) => `${s[0]} ${s[1]}`), steps.slice(1).map((s) => `${s[0]} ${s[1]}`), "the plan was what apply did");
  t.equal(count(dbFile, "Release"), 3);
  t.equal(count(dbFile, "Channel"), 3);
  const db = new Database(dbFile, { readonly: true });
  const actors = db.prepare(`SELECT DISTINCT actor FROM "AuditEntry"`).all() as { actor: string }[];
  db.close();
  t.same(actors.map((a) => a.actor), [`cli:${userInfo().username}`]);

  const third = await run(["apply", CHANNELS_DIR], env);
  t.equal(third.code, 0);
  t.equal(third.stdout, `nothing to do: the database already matches ${CHANNELS_DIR}\n`);
  const thirdJson = await run(["apply", CHANNELS_DIR, "--json"], env);
  t.same((JSON.parse(thirdJson.stdout) as { steps: unknown[] }).steps, []);
  t.equal(count(dbFile, "Release"), 3);

  // A file that contradicts a stored release is refused, nothing written.
  const changed = join(dir, "changed");
  cpSync(CHANNELS_DIR, changed, { recursive: true });
  const f = join(changed, "releases", "0.60.0.yaml");
  writeFileSync(f, readFileSync(f, "utf8").replace("notes: W&B Server 0.60.0", "notes: edited"));
  const audits = count(dbFile, "AuditEntry");
  const conflict = await run(["apply", changed], env);
  t.equal(conflict.code, 1);
  t.match(conflict.stderr, /^error: DECLARATION_CONFLICT: releases\/0\.60\.0\.yaml: notes differs from stored release 0\.60\.0/);
  t.match(conflict.stderr, /\nfield: releases\/0\.60\.0\.yaml: notes\n/);
  t.equal(count(dbFile, "AuditEntry"), audits);

  const noDir = await run(["apply", join(dir, "missing")], env);
  t.equal(noDir.code, 1);
  t.match(noDir.stderr, /is not a directory/);
});

/** Any terminal control character (what terminalSafe removes), for asserting output is clean. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

t.test("apply refuses what it must not read, quickly, and writes nothing", async (t) => {
  const root = t.testdir({ outside: { "evil.yaml": "name: evil\ndescription: from outside DIR\n" } });
  const dbFile = join(root, "apply.db");
  const env = { DATABASE_URL: `file:${dbFile}`, DATA_DIR: join(root, "data") };
  const fresh = (name: string) => {
    const dir = join(root, name);
    cpSync(CHANNELS_DIR, dir, { recursive: true });
    return dir;
  };
  const nothingWritten = (what: string) => {
    t.equal(count(dbFile, "Release"), 0, `${what}: no release written`);
    t.equal(count(dbFile, "Channel"), 0, `${what}: no channel written`);
  };

  const linked = fresh("linked");
  symlinkSync(join(root, "outside", "evil.yaml"), join(linked, "evil.yaml"));
  const link = await run(["apply", linked], env);
  t.equal(link.code, 1);
  t.equal(link.stderr, `error: VALIDATION_FAILED: evil.yaml: is a symbolic link to ${join(root, "outside", "evil.yaml")}, outside the directory; apply reads only files inside it\nfield: evil.yaml\n`);
  t.equal(link.stdout, "");
  nothingWritten("a link out of DIR");

  // The issue's 22 MB file: it ran past 20 s and 450 MB before the limit.
  const big = fresh("big");
  const entries = Array.from({ length: Math.ceil(22e6 / 28) }, (_, i) => `  k${String(i).padStart(8, "0")}: value-${String(i).padStart(8, "0")}\n`).join("");
  writeFileSync(join(big, "releases", "0.99.0.yaml"), `version: 0.99.0\nchart: {path: /x}\nvalues:\n${entries}`);
  const started = performance.now();
  const tooBig = await run(["apply", big, "--dry-run"], env);
  const ms = performance.now() - started;
  t.comment(`a ${(statSync(join(big, "releases", "0.99.0.yaml")).size / 1e6).toFixed(1)} MB file refused in ${ms.toFixed(0)} ms (the whole command: migrations check, context, refusal)`);
  t.equal(tooBig.code, 1);
  t.match(tooBig.stderr, /^error: VALIDATION_FAILED: releases\/0\.99\.0\.yaml: is \d+ bytes, over the limit of 1 MiB per file\nfield: releases\/0\.99\.0\.yaml\n$/);
  t.ok(ms < 10_000, "refused in seconds, not tens of seconds");
  nothingWritten("a file over the limit");

  // A hostile file name and tag: the error names both, with no escape code printed.
  const tagged = fresh("tagged");
  writeFileSync(join(tagged, "e\u001b[2Jvil\u001b]0;pwned\u0007.yaml"), "name: evil\ndescription: !!js/function 'function () {}'\n");
  const tag = await run(["apply", tagged], env);
  t.equal(tag.code, 1);
  t.match(tag.stderr, /^error: VALIDATION_FAILED: evil\.yaml: line 2: the tag !!js\/function is not allowed/);
  t.notMatch(tag.stderr, CONTROL, "no control character reaches the terminal");
  nothingWritten("a tag");
});

t.test("server messages and values with terminal escape codes are printed clean", async (t) => {
  const { h, url } = await serve(t);
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin", "ops@example.com") };

  // A real server refuses a reference holding control characters and names
  // the first one without echoing it (src/domain/text.ts); the CLI prints
  // that answer clean whether or not the server echoes.
  const hostile = "\u001b]0;pwned\u0007\u001b[31mevil\u009b2J\r\u202e";
  const raw = (await h.admin("GET", `/releases/${encodeURIComponent(hostile)}`)).json() as { code: string; message: string };
  t.equal(raw.code, "VALIDATION_FAILED", "the server refuses the reference");
  t.notMatch(raw.message, CONTROL, "and does not echo its control characters");
  for (const argv of [["release", "show", hostile], ["release", "show", hostile, "--json"]]) {
    const r = await run(argv, env);
    t.equal(r.code, 1);
    t.match(r.stderr, /^error: VALIDATION_FAILED: params\.idOrVersion: .*U\+001B.*\nfield: idOrVersion\n$/, `${argv.join(" ")}: the server's answer`);
    t.notMatch(r.stderr, CONTROL, `${argv.join(" ")}: printed clean`);
  }

  // Values holding escape codes: shown as YAML and JSON without a raw control
  // character, and still the same data (escaped, not dropped).
  const values = { banner: "\u001b[2J\u001b[31mred", csi: "x\u009b31my", bidi: "a\u202eb", "key\u001b[1m": "v\r" };
  const dir = join(h.dataDir, "values-files");
  mkdirSync(dir);
  writeFileSync(join(dir, "v.json"), JSON.stringify(values));
  const set = await run(["license", "values", "set", "acme", join(dir, "v.json"), "--force"], env);
  t.equal(set.code, 0, set.stderr);
  t.notMatch(set.stdout, CONTROL, "set: the keys echoed clean");
  const shown = await run(["license", "values", "show", "acme"], env);
  t.equal(shown.code, 0, shown.stderr);
  t.notMatch(shown.stdout, CONTROL, "show: no raw control character");
  t.same(YAML.parse(shown.stdout), values, "show: the same values, escaped in double quotes");
  const asJson = await run(["license", "values", "show", "acme", "--json"], env);
  t.notMatch(asJson.stdout, CONTROL, "--json: no raw control character");
  t.same((JSON.parse(asJson.stdout) as { values: unknown }).values, values, "--json: the same values");

  // A server (or anything at CHARTROOM_URL) sending escape codes in code, message and field.
  const evil = await standIn(t, (_req, res) =>
    res.writeHead(409, { "content-type": "application/json" }).end(JSON.stringify({ code: "\u001b[31mEVIL", message: "\u001b]52;c;cGF3bmVk\u0007clipboard\u0008\u0008\u0008", field: "\u009b2Jf" })),
  );
  const r = await run(["channels"], { CHARTROOM_URL: evil });
  t.equal(r.code, 1);
  t.equal(r.stderr, "error: EVIL: clipboard\nfield: f\n");
});

t.test("bin/chartroom.js runs the compiled CLI", async (t) => {
  const bin = join(ROOT, "bin", "chartroom.js");
  t.ok(existsSync(join(ROOT, "dist", "cli", "main.js")), "dist/cli/main.js is built (node scripts/prepare.mjs)");
  const exec = promisify(execFile);
  const help = await exec(process.execPath, [bin, "--help"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "" } });
  t.match(help.stdout, /^chartroom: the Chartroom command-line tool/);
  t.match(help.stdout, /chartroom promote VERSION --to CHANNEL/);

  const bad = await exec(process.execPath, [bin, "frobnicate"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "" } }).catch((e: { code: number; stderr: string }) => e);
  t.equal((bad as { code: number }).code, 2, "the exit code comes through");
  t.match((bad as { stderr: string }).stderr, /unknown command/);

  const { h, url } = await serve(t);
  const listed = await exec(process.execPath, [bin, "channels"], { cwd: ROOT, env: { PATH: process.env.PATH ?? "", CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("viewer") } });
  t.match(listed.stdout, /^NAME +RELEASE +UPDATED +DESCRIPTION\nbeta +0\.59\.2 /);
});

t.test("apply over HTTP with an admin token: the server's plan, the token's sub; --local for the database", async (t) => {
  const { h, url } = await serve(t);
  const admin = h.adminToken("admin", "ci@example.com");
  const dbFile = join(t.testdir({}), "local.db");
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: admin, DATABASE_URL: `file:${dbFile}` };
  // The served app holds the samples without their policies; the files add them, and declare unstable below where it is.
  t.equal((await h.admin("POST", "/releases", releaseBody("0.61.0"))).statusCode, 201);
  t.equal((await h.admin("POST", "/channels/unstable/promote", { release: "0.61.0" })).statusCode, 200);
  const dry = await run(["apply", CHANNELS_DIR, "--dry-run"], env);
  t.equal(dry.code, 1, "a dry run with conflicts exits 1");
  t.match(dry.stdout, /plan for .* \(dry run: nothing was written\), 2 step\(s\):/);
  t.match(dry.stdout, /update-channel +beta +beta\.yaml +update policy of beta/);
  t.match(dry.stdout, /1 conflict\(s\): apply would stop at the first and change nothing:\nTARGET +FILE +CODE +MESSAGE\nunstable +unstable\.yaml +DOWNGRADE_REFUSED +release 0\.60\.0 is lower than 0\.61\.0/);
  t.match(dry.stderr, `note: applied over HTTP (POST ${url}/api/v1/admin/apply) as ci@example.com`);
  const json = JSON.parse((await run(["apply", CHANNELS_DIR, "--dry-run", "--json"], env)).stdout) as { mode: string; actor: string; conflicts: unknown[] };
  t.match(json, { mode: "http", actor: "ci@example.com", conflicts: [{ code: "DOWNGRADE_REFUSED", field: "unstable.yaml: release" }] });
  const engineer = await run(["apply", CHANNELS_DIR], { ...env, CHARTROOM_TOKEN: h.adminToken("release-engineer") });
  t.equal(engineer.code, 1);
  t.match(engineer.stderr, /^error: ROLE_REQUIRED: this action needs the admin role/);
  // --local: the database (here an empty file of its own), never the server; audited as the OS user.
  const local = await run(["apply", CHANNELS_DIR, "--local"], env);
  t.equal(local.code, 0, local.stderr);
  t.match(local.stdout, `applied ${CHANNELS_DIR} as cli:${userInfo().username}, 9 step(s)`);
  t.equal(local.stderr, `note: applied to the database file:${dbFile} directly (local mode: for first boot and break-glass; set CHARTROOM_TOKEN to apply through the server)\n`);
  t.equal(count(dbFile, "Channel"), 3);

  // yank --rollback: the channels serving it are rolled back in the same request; --json names them.
  const yr = await run(["yank", "0.61.0", "--reason", "bad build", "--rollback", "--json"], env);
  t.equal(yr.code, 0, yr.stderr);
  const yj = JSON.parse(yr.stdout) as { serving: string[]; rolledBack: { channel: string; to: { version: string } }[] };
  t.same([yj.serving, yj.rolledBack.map((m) => `${m.channel}:${m.to.version}`)], [[], ["unstable:0.60.0"]]);
  t.equal(((await h.admin("GET", "/channels/unstable")).json() as { release: { version: string } }).release.version, "0.60.0");
});
