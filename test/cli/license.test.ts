// The license and fleet commands of the chartroom CLI, end to end: main() is
// called in-process against a real server listening on a port (testApp +
// listen), and what the commands did is checked through the server's own
// operator endpoint and admin API.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import t from "tap";
import YAML from "yaml";
import { ROOT, claims, rows, run, serve } from "./fixtures/cli-harness.js";
import type { TestApp } from "../helpers/app.js";

const JWT = /^[\w-]+\.[\w-]+\.[\w-]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Spec {
  metadata: Record<string, string>;
  values: Record<string, unknown>;
}

async function spec(h: TestApp, token: string): Promise<Spec> {
  const r = await h.poll(token);
  if (r.statusCode !== 200) throw new Error(`poll: HTTP ${r.statusCode} ${r.body}`);
  return r.json() as Spec;
}

t.test("help lists the license and fleet commands; bad usage exits 2", async (t) => {
  const help = await run(["help"], {});
  t.equal(help.code, 0);
  for (const cmd of [
    "license dev --sub NAME [--channel stable] [--ttl 30d] [--data-dir DIR]",
    "license issue --sub NAME --channel CHANNEL [--expires ISO-DATE|30d] [--notes TEXT]",
    "license list",
    "license revoke JTI --reason TEXT [--force]",
    "license values show SUB",
    "license values set SUB FILE.yaml|- [--force]",
    "license values unset SUB",
    "fleet [--channel CHANNEL] [--not-seen-for 24h] [--stuck | --on-path]",
  ]) {
    t.match(help.stdout, `  chartroom ${cmd}\n`, `usage lists ${cmd}`);
  }
  const one = await run(["license", "values", "set", "--help"], {});
  t.equal(one.code, 0);
  t.equal(one.stdout.split("\n")[0], "usage: chartroom license values set SUB FILE.yaml|- [--force]");

  // None of these reaches a server: CHARTROOM_URL points nowhere, and a
  // request would exit 3, not 2.
  const env = { CHARTROOM_URL: "http://127.0.0.1:9", CHARTROOM_TOKEN: "unused-token-0123456789" };
  const bad: [string[], RegExp][] = [
    [["license", "issue", "--channel", "stable"], /^error: --sub NAME is required\n/],
    [["license", "issue", "--sub", "acme"], /^error: --channel CHANNEL is required\n/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "tomorrow"], /^error: --expires "tomorrow": use an ISO 8601 date-time/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "2027-02-30T00:00:00Z"], /^error: --expires "2027-02-30T00:00:00Z": use an ISO 8601/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "2027-01-31T25:00:00Z"], /^error: --expires "2027-01-31T25:00:00Z": use an ISO 8601/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "2027-01-31T10:00:00"], /give a time zone/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "2027-01-31T10:00:00+25:00"], /^error: --expires "2027-01-31T10:00:00\+25:00": use an ISO 8601/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "2027-04-31"], /^error: --expires "2027-04-31": use an ISO 8601/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "0d"], /more than zero/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires", "30y"], /use an ISO 8601 date-time/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "--expires"], /--expires/],
    [["license", "issue", "--sub", "acme", "--channel", "stable", "extra"], /unexpected argument "extra"/],
    [["license", "revoke", "some-jti"], /--reason TEXT is required/],
    [["license", "revoke", "--reason", "x"], /missing JTI/],
    [["license", "values", "show"], /missing SUB/],
    [["license", "values", "set", "acme"], /missing FILE/],
    [["license", "values", "set", "acme", join(ROOT, "no-such-values.yaml")], /no-such-values\.yaml: cannot be read \(ENOENT\)/],
    [["license", "values", "unset"], /missing SUB/],
    [["license", "values", "frob", "acme"], /unknown command "license values frob"; try "chartroom license values show" or "chartroom license values set" or "chartroom license values unset"/],
    [["license", "forge"], /unknown command "license forge".*"chartroom license issue"/],
    [["fleet", "--not-seen-for", "1y"], /--not-seen-for "1y": use a number and a unit/],
    [["fleet", "--not-seen-for", "24"], /--not-seen-for "24": use a number and a unit/],
    [["fleet", "--not-seen-for", "400d"], /at most 366d/],
    [["fleet", "beta"], /unexpected argument "beta"/],
  ];
  for (const [argv, msg] of bad) {
    const r = await run(argv, env);
    t.equal(r.code, 2, `${argv.join(" ")} is a usage error`);
    t.match(r.stderr, msg, `${argv.join(" ")} says why`);
    t.equal(r.stdout, "", `${argv.join(" ")} prints nothing on stdout`);
  }
  // Bad values from stdin: a usage error too.
  for (const [input, msg] of [
    ["- a\n- b\n", /^error: stdin must hold a mapping of Helm values/],
    ["", /^error: stdin must hold a mapping of Helm values/],
    ["a: [1, 2", /^error: stdin: line 1: not valid YAML or JSON/],
    ["a: 1\nb: !!js/function 'function () {}'\n", /^error: stdin: line 2: the tag !!js\/function is not allowed/],
  ] as const) {
    const r = await run(["license", "values", "set", "acme", "-"], env, input);
    t.equal(r.code, 2, `stdin ${JSON.stringify(input)} is a usage error`);
    t.match(r.stderr, msg);
  }
});

t.test("license issue, list and revoke", async (t) => {
  const { h, url } = await serve(t);
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin", "licensing@example.com") };

  // issue: the token alone on stdout, the summary on stderr
  const before = Math.floor(Date.now() / 1000);
  const issued = await run(["license", "issue", "--sub", "acme", "--channel", "beta", "--expires", "30d", "--notes", "pilot customer"], env);
  t.equal(issued.code, 0, issued.stderr);
  t.match(issued.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/, "the token only, one line");
  const token = issued.stdout.trim();
  const c = claims(token);
  t.equal(c.sub, "acme");
  t.equal(c.channel, "beta");
  t.match(c.jti, UUID);
  t.ok(Math.abs((c.exp as number) - before - 30 * 86400) <= 2, "--expires 30d is 30 days from now");
  t.equal(issued.stderr, `issued license ${c.jti as string}: sub acme, channel beta, expires ${new Date((c.exp as number) * 1000).toISOString().replace(/\.\d+Z$/, "Z")}\n`);
  t.notMatch(issued.stderr, token, "the summary does not repeat the token");

  // the server serves the printed token, over HTTP
  const res = await fetch(`${url}/api/v1/operator/channel`, { headers: { authorization: `Basic ${Buffer.from(`license:${token}`).toString("base64")}` } });
  t.equal(res.status, 200, "the operator endpoint accepts the issued license");
  const served = (await res.json()) as Spec;
  t.equal(served.metadata.channel, "beta");
  t.equal(served.metadata.version, "0.59.2");

  // --expires as an ISO date-time with an offset, and --json: the whole answer, no summary
  const iso = await run(["license", "issue", "--sub", "globex", "--channel", "stable", "--expires", "2030-01-31T12:00:00+02:00", "--json"], env);
  t.equal(iso.code, 0, iso.stderr);
  t.equal(iso.stderr, "", "--json: nothing on stderr");
  const isoJson = JSON.parse(iso.stdout) as { token: string; jti: string; sub: string; channel: string; expiresAt: string; issuedHere: boolean; issuedBy: string; kid: string; notes: string };
  t.match(isoJson.token, JWT);
  t.equal(isoJson.expiresAt, "2030-01-31T10:00:00.000Z", "the offset is converted to UTC");
  t.equal(claims(isoJson.token).exp, Date.parse("2030-01-31T10:00:00Z") / 1000);
  t.equal(isoJson.issuedBy, "licensing@example.com");
  t.equal(isoJson.issuedHere, true);
  t.equal(isoJson.notes, "");
  t.equal((await h.poll(isoJson.token)).statusCode, 200);

  // a duration is whole seconds from now, so the listed expiry is the token's exp
  const hours = await run(["license", "issue", "--sub", "hooli", "--channel", "stable", "--expires", "12h", "--json"], env);
  t.equal(hours.code, 0, hours.stderr);
  const hoursJson = JSON.parse(hours.stdout) as { token: string; expiresAt: string };
  t.equal(Date.parse(hoursJson.expiresAt), (claims(hoursJson.token).exp as number) * 1000);
  t.ok(Math.abs(Date.parse(hoursJson.expiresAt) - Date.now() - 12 * 3_600_000) < 5_000, "12h from now");

  // a date alone is midnight UTC; no --expires is one year
  const day = await run(["license", "issue", "--sub", "initech", "--channel", "stable", "--expires", "2031-06-01", "--json"], env);
  t.equal(day.code, 0, day.stderr);
  t.equal((JSON.parse(day.stdout) as { expiresAt: string }).expiresAt, "2031-06-01T00:00:00.000Z");
  const year = await run(["license", "issue", "--sub", "umbrella", "--channel", "stable", "--json"], env);
  t.equal(year.code, 0, year.stderr);
  const yearJson = JSON.parse(year.stdout) as { jti: string; token: string; expiresAt: string };
  t.ok(Math.abs(Date.parse(yearJson.expiresAt) - Date.now() - 365 * 86_400_000) < 60_000, "default expiry: one year");

  // a date in the past is well-formed, so the server refuses it (exit 1, with the field)
  const past = await run(["license", "issue", "--sub", "acme", "--channel", "beta", "--expires", "2020-01-01T00:00:00Z"], env);
  t.equal(past.code, 1);
  t.match(past.stderr, /^error: VALIDATION_FAILED: expiresAt: must be in the future\nfield: expiresAt\n$/);
  t.equal(past.stdout, "");
  // so is a licensee id the server does not accept
  const badSub = await run(["license", "issue", "--sub", "(anonymous)", "--channel", "beta"], env);
  t.equal(badSub.code, 1);
  t.match(badSub.stderr, /^error: VALIDATION_FAILED: .*\nfield: sub\n/);

  // An expired license issued here (written straight to the database: the
  // API only issues licenses that expire in the future).
  const expiredJti = randomUUID();
  await h.ctx.store.licenses.issue({ jti: expiredJti, sub: "wayne", channel: "stable", expiresAt: new Date(Date.now() - 86_400_000), notes: "", issuedBy: "test", keyId: "k" });

  // list: every license, newest first, with its state; never a token
  const listed = await run(["license", "list"], env);
  t.equal(listed.code, 0, listed.stderr);
  const table = rows(listed.stdout);
  t.same(table[0], ["JTI", "SUB", "CHANNEL", "EXPIRES", "STATE", "ISSUED-HERE"]);
  const byJti = new Map(table.slice(1).map((r) => [r[0], r]));
  t.equal(byJti.size, 6, "six licenses");
  t.same(byJti.get(c.jti as string), [c.jti, "acme", "beta", new Date((c.exp as number) * 1000).toISOString().replace(/\.\d+Z$/, "Z"), "active", "yes"]);
  t.same(byJti.get(isoJson.jti), [isoJson.jti, "globex", "stable", "2030-01-31T10:00:00Z", "active", "yes"]);
  t.same(byJti.get(expiredJti)?.slice(1, 3), ["wayne", "stable"]);
  t.equal(byJti.get(expiredJti)?.[4], "expired");
  for (const tok of [token, isoJson.token, yearJson.token]) {
    t.notMatch(listed.stdout, tok.split(".")[2]!, "no token (not even a signature) in the list");
  }
  const lines = listed.stdout.trimEnd().split("\n");
  t.same(new Set(lines.map((l, i) => l.indexOf(table[i]![4]!, 36))), new Set([lines[0]!.indexOf("STATE")]), "the STATE column is aligned");
  const listJson = await run(["license", "list", "--json"], env);
  t.equal(listJson.code, 0);
  t.notMatch(listJson.stdout, token.split(".")[2]!, "no token in --json either");
  t.same((JSON.parse(listJson.stdout) as { items: { jti: string }[] }).items.map((l) => l.jti).sort(), [...byJti.keys()].sort());

  // revoke: the token is refused from then on
  const revoked = await run(["license", "revoke", c.jti as string, "--reason", "contract ended"], env);
  t.equal(revoked.code, 0, revoked.stderr);
  t.equal(revoked.stdout, `revoked license ${c.jti as string} (sub acme): contract ended\n`);
  const refused = await h.poll(token);
  t.equal(refused.statusCode, 403, "the revoked token is refused");
  t.equal((refused.json() as { code: string }).code, "LICENSE_REVOKED");
  t.equal((await h.poll(isoJson.token)).statusCode, 200, "other licenses still work");

  const twice = await run(["license", "revoke", c.jti as string, "--reason", "again"], env);
  t.equal(twice.code, 1);
  t.match(twice.stderr, new RegExp(`^error: LICENSE_ALREADY_REVOKED: license ${c.jti as string} is already revoked\n`));
  t.equal(twice.stdout, "");

  // a license issued elsewhere can be revoked by jti as well
  const foreign = h.license({ sub: "hooli", jti: "external-jti-1" });
  t.equal((await h.poll(foreign)).statusCode, 200);
  // (--force: its poll may not be in the fleet yet, which records polls in batches)
  const revokedForeign = await run(["license", "revoke", "external-jti-1", "--reason", "leaked", "--json", "--force"], env);
  t.equal(revokedForeign.code, 0, revokedForeign.stderr);
  t.match(JSON.parse(revokedForeign.stdout), { jti: "external-jti-1", issuedHere: false, revoked: true, revokeReason: "leaked", revokedBy: "licensing@example.com" });
  t.equal((await h.poll(foreign)).statusCode, 403);

  const after = rows((await run(["license", "list"], env)).stdout);
  const afterByJti = new Map(after.slice(1).map((r) => [r[0], r]));
  t.equal(afterByJti.get(c.jti as string)?.[4], "revoked");
  t.equal(afterByJti.get(isoJson.jti)?.[4], "active");
  t.same(afterByJti.get("external-jti-1"), ["external-jti-1", "-", "-", "-", "revoked", "no"]);
});

t.test("viewer can list but not issue or revoke", async (t) => {
  const { h, url } = await serve(t);
  const viewer = h.adminToken("viewer", "viewer@example.com");
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: viewer };

  const issue = await run(["license", "issue", "--sub", "acme", "--channel", "stable"], env);
  t.equal(issue.code, 1);
  t.match(issue.stderr, /^error: ROLE_REQUIRED: this action needs the admin role\n$/);
  t.equal(issue.stdout, "");
  t.notMatch(issue.stderr, viewer.split(".")[2]!, "the admin token is not printed");

  // a release engineer is not enough either
  const engineer = await run(["license", "issue", "--sub", "acme", "--channel", "stable"], { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("release-engineer") });
  t.equal(engineer.code, 1);
  t.match(engineer.stderr, /^error: ROLE_REQUIRED: /);

  const revoke = await run(["license", "revoke", "some-jti", "--reason", "x", "--force"], env);
  t.equal(revoke.code, 1);
  t.match(revoke.stderr, /^error: ROLE_REQUIRED: /);
  const set = await run(["license", "values", "set", "acme", "-", "--force"], env, "a: 1\n");
  t.equal(set.code, 1);
  t.match(set.stderr, /^error: ROLE_REQUIRED: /);

  const list = await run(["license", "list"], env);
  t.equal(list.code, 0, list.stderr);
  t.equal(list.stdout, "no licenses\n", "nothing was issued or revoked");
  const fleet = await run(["fleet"], env);
  t.equal(fleet.code, 0, fleet.stderr);
  t.equal(fleet.stdout, "no licensees in the fleet\n");

  // no token at all: 401 with the hint
  const none = await run(["license", "list"], { CHARTROOM_URL: url });
  t.equal(none.code, 1);
  t.match(none.stderr, /^error: ADMIN_UNAUTHORIZED: [\s\S]*hint: set CHARTROOM_TOKEN/);
});

t.test("license values set, show and unset", async (t) => {
  const { h, url } = await serve(t);
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin") };
  const acme = h.license({ sub: "acme", channel: "stable" });
  const other = h.license({ sub: "globex", channel: "stable" });

  const baseline = await spec(h, acme);
  t.equal((baseline.values.mysql as { install: boolean }).install, false, "channel default before the override");
  t.equal(baseline.metadata.licenseOverrides, undefined);

  const dir = join(h.dataDir, "values-files");
  mkdirSync(dir);
  const file = join(dir, "acme.yaml");
  writeFileSync(file, "# acme runs its own database\nmysql:\n  install: true\nglobal:\n  extraEnv:\n    TIER: gold\n");

  // acme is known once its poll (spec() above) is in the fleet: the CLI refuses a licensee the server never met.
  await h.ctx.fleet.flush();
  const set = await run(["license", "values", "set", "acme", file], env);
  t.equal(set.code, 0, set.stderr);
  t.equal(set.stdout, "set the values override of acme: mysql, global\n");

  const a = await spec(h, acme);
  t.equal((a.values.mysql as { install: boolean }).install, true, "acme's spec has its override");
  t.same((a.values.global as { extraEnv: Record<string, string> }).extraEnv, { ENABLE_REGISTRY_UI: "true", TIER: "gold" }, "deep-merged over the channel defaults");
  t.equal((a.values.global as { host: string }).host, "https://wandb.example.com");
  t.equal(a.metadata.licenseOverrides, "true");
  const o = await spec(h, other);
  t.equal((o.values.mysql as { install: boolean }).install, false, "another licensee's spec does not");
  t.same((o.values.global as { extraEnv: Record<string, string> }).extraEnv, { ENABLE_REGISTRY_UI: "true" });
  t.equal(o.metadata.licenseOverrides, undefined);

  // show: YAML that set takes back
  const shown = await run(["license", "values", "show", "acme"], env);
  t.equal(shown.code, 0, shown.stderr);
  t.same(YAML.parse(shown.stdout), { mysql: { install: true }, global: { extraEnv: { TIER: "gold" } } });
  t.match(shown.stdout, /^mysql:\n {2}install: true\n/);
  const shownJson = await run(["license", "values", "show", "acme", "--json"], env);
  t.same(JSON.parse(shownJson.stdout), { sub: "acme", values: { mysql: { install: true }, global: { extraEnv: { TIER: "gold" } } } });
  const noneYet = await run(["license", "values", "show", "globex"], env);
  t.equal(noneYet.code, 1);
  t.match(noneYet.stderr, /^error: NOT_FOUND: licensee globex has no values override\n$/);

  // set from stdin (JSON), replacing the whole override
  const fromStdin = await run(["license", "values", "set", "acme", "-"], env, '{"global": {"extraEnv": {"TIER": "silver"}}}');
  t.equal(fromStdin.code, 0, fromStdin.stderr);
  t.equal(fromStdin.stdout, "set the values override of acme: global\n");
  const a2 = await spec(h, acme);
  t.equal((a2.values.global as { extraEnv: Record<string, string> }).extraEnv.TIER, "silver");
  t.equal((a2.values.mysql as { install: boolean }).install, false, "the override was replaced, not merged with the one before");

  // values the server refuses: exit 1 with the field
  const forbidden = await run(["license", "values", "set", "acme", "-"], env, '{"a": {"constructor": 1}}');
  t.equal(forbidden.code, 1);
  t.match(forbidden.stderr, /^error: VALIDATION_FAILED: [\s\S]*\nfield: values\.a\.constructor\n/);
  t.equal((await spec(h, acme)).metadata.licenseOverrides, "true", "the override before is kept");

  // unset
  const unset = await run(["license", "values", "unset", "acme"], env);
  t.equal(unset.code, 0, unset.stderr);
  t.equal(unset.stdout, "removed the values override of acme\n");
  const a3 = await spec(h, acme);
  t.same((a3.values.global as { extraEnv: Record<string, string> }).extraEnv, { ENABLE_REGISTRY_UI: "true" }, "acme is back to the channel's values");
  t.equal(a3.metadata.licenseOverrides, undefined);
  const gone = await run(["license", "values", "show", "acme"], env);
  t.equal(gone.code, 1);
  t.match(gone.stderr, /^error: NOT_FOUND: /);
  const unsetAgain = await run(["license", "values", "unset", "acme"], env);
  t.equal(unsetAgain.code, 1);
  t.match(unsetAgain.stderr, /^error: NOT_FOUND: licensee acme has no values override\n$/);

  // the audit log names each change
  const audit = (await h.admin("GET", "/audit?targetType=licensee")).json() as { items: { action: string; target: string }[] };
  t.same(audit.items.map((i) => `${i.action} ${i.target}`), ["license.values.unset acme", "license.values.set acme", "license.values.set acme"]);
});

t.test("fleet: who polls what, and releases per channel", async (t) => {
  const { h, url } = await serve(t);
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("viewer") };

  // Three licensees on stable at 0.58.1 (one polls twice), one on beta.
  const s1 = h.license({ sub: "acme", channel: "stable" });
  const s2 = h.license({ sub: "globex", channel: "stable" });
  const b1 = h.license({ sub: "initech", channel: "beta", jti: "initech-jti" });
  for (const tok of [s1, s1, s2, b1]) t.equal((await h.poll(tok)).statusCode, 200);
  t.equal((await h.poll(s2, undefined, { "user-agent": "wandb-operator/1.4.2" })).statusCode, 200);
  // stable moves on; the next licensee to poll gets 0.59.2
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" })).statusCode, 200);
  // a license issued here that has expired since (the database says so)
  const expiredJti = randomUUID();
  await h.ctx.store.licenses.issue({ jti: expiredJti, sub: "umbrella", channel: "stable", expiresAt: new Date(Date.now() - 60_000), notes: "", issuedBy: "test", keyId: "k" });
  const s3 = h.license({ sub: "umbrella", channel: "stable", jti: expiredJti });
  t.equal((await h.poll(s3)).statusCode, 200);
  await h.ctx.fleet.flush(true);
  // initech's license is revoked after it polled
  t.equal((await h.admin("POST", "/licenses/initech-jti/revoke", { reason: "churned" })).statusCode, 200);
  // Health reports (docs/api.md §9): acme on the release it was served, globex on another one.
  for (const [tok, release, state] of [[s1, "0.58.1", "healthy"], [s2, "0.59.2", "failed"]] as const) {
    const r = await h.app.inject({ method: "POST", url: "/api/v1/operator/report", headers: { authorization: `Bearer ${tok}`, "content-type": "application/json" }, payload: { release, state } });
    t.equal(r.statusCode, 202, r.body);
  }

  const f = await run(["fleet"], env);
  t.equal(f.code, 0, f.stderr);
  const [head, distribution] = f.stdout.split("\n\n");
  const table = rows(head!);
  t.same(table[0], ["SUB", "CHANNEL", "RELEASE", "HEALTH", "LAST-SEEN", "POLLS", "LICENSE", "USER-AGENT"]);
  const bySub = new Map(table.slice(1).map((r) => [r[0], r]));
  t.equal(bySub.size, 4);
  const cols = (sub: string) => {
    const r = bySub.get(sub);
    return r ? [r[1], r[2], r[3], r[5], r[6], r[7]] : undefined;
  };
  t.same(cols("acme"), ["stable", "0.58.1", "healthy", "2", "ok", "Go-http-client/1.1"], "HEALTH: its report on the release it was served");
  t.same(cols("globex"), ["stable", "0.58.1", "failed@0.59.2", "2", "ok", "wandb-operator/1.4.2"], "the last user agent; HEALTH on another release names it");
  t.same(cols("initech"), ["beta", "0.59.2", "-", "1", "revoked", "Go-http-client/1.1"], "no report: -");
  t.same(cols("umbrella"), ["stable", "0.59.2", "-", "1", "expired", "Go-http-client/1.1"]);
  t.match(bySub.get("acme")![4], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "LAST-SEEN is a time");
  t.ok(Math.abs(Date.parse(bySub.get("acme")![4]!) - Date.now()) < 60_000, "seen just now");
  t.equal(distribution, "releases per channel:\n  beta: 0.59.2 ×1\n  stable: 0.58.1 ×2, 0.59.2 ×1\n");

  const json = await run(["fleet", "--json"], env);
  t.equal(json.code, 0);
  const fj = JSON.parse(json.stdout) as { items: { sub: string; pollCount: number }[]; distribution: Record<string, Record<string, number>> };
  t.same(fj.distribution, { beta: { "0.59.2": 1 }, stable: { "0.58.1": 2, "0.59.2": 1 } });
  t.same(fj.items.map((i) => i.sub).sort(), ["acme", "globex", "initech", "umbrella"]);

  const beta = await run(["fleet", "--channel", "beta"], env);
  t.equal(beta.code, 0, beta.stderr);
  t.same(rows(beta.stdout.split("\n\n")[0]!).slice(1).map((r) => r[0]), ["initech"]);
  t.equal(beta.stdout.split("\n\n")[1], "releases per channel:\n  beta: 0.59.2 ×1\n");
  const badChannel = await run(["fleet", "--channel", "Not_A_Channel"], env);
  t.equal(badChannel.code, 1);
  t.match(badChannel.stderr, /^error: VALIDATION_FAILED: [\s\S]*field: channel\n/);

  // --not-seen-for: a licensee last seen 50 hours ago
  const seen = new Date(Date.now() - 50 * 3_600_000);
  await h.ctx.store.fleet.recordPolls({ sub: "hooli", channel: "stable", releaseId: null, releaseVersion: "0.58.1", jti: null, licenseExp: null, userAgent: null, firstSeenAt: seen.getTime(), lastSeenAt: seen.getTime(), polls: 7 });
  const silent = async (d: string) => {
    const r = await run(["fleet", "--not-seen-for", d], env);
    t.equal(r.code, 0, r.stderr);
    return r.stdout === "no licensees in the fleet\n" ? [] : rows(r.stdout.split("\n\n")[0]!).slice(1).map((x) => x[0]);
  };
  t.same(await silent("30m"), ["hooli"], "30m: only the silent one");
  t.same(await silent("49h"), ["hooli"], "49h");
  t.same(await silent("51h"), [], "51h: nobody");
  t.same(await silent("2d"), ["hooli"], "2d is 48 hours");
  t.same(await silent("3d"), [], "3d is 72 hours");
  const old = await run(["fleet", "--not-seen-for", "24h"], env);
  t.match(old.stdout, /^hooli +stable +0\.58\.1 +- +\S+ +7 +ok +-$/m, "no license recorded, no user agent");
  t.match(old.stdout, /releases per channel:\n {2}stable: 0\.58\.1 ×1\n$/, "the distribution follows the filter");
});

t.test("bin/chartroom.js: LICENSE=$(chartroom license issue …)", async (t) => {
  t.ok(existsSync(join(ROOT, "dist", "cli", "licenses.js")), "dist/cli/licenses.js is built (node scripts/prepare.mjs)");
  const { h, url } = await serve(t);
  const exec = promisify(execFile);
  const r = await exec("sh", ["-c", 'LICENSE=$("$NODE" bin/chartroom.js license issue --sub acme --channel stable --expires 12h) && printf "%s" "$LICENSE"'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", NODE: process.execPath, CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin") },
  });
  t.match(r.stdout, JWT, "the captured variable is the token");
  t.match(r.stderr, /^issued license [0-9a-f-]{36}: sub acme, channel stable, expires \S+Z\n$/, "the summary went to stderr");
  t.equal((await h.poll(r.stdout)).statusCode, 200);
  t.equal(claims(r.stdout).sub, "acme");
});
