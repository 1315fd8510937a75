// chartroom login/logout (a token per server URL in a 0600 file, used when
// CHARTROOM_TOKEN is unset), the checks that refuse a jti or a licensee the
// server has never met unless --force, and release init/lint offline.
// Against a real server on a port (serve) where a server is needed.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { rows, run, serve } from "./fixtures/cli-harness.js";

t.test("login stores a token per server (mode 0600) that the commands then use; logout forgets it", async (t) => {
  const { h, url } = await serve(t);
  const config = t.testdir({});
  const env = { XDG_CONFIG_HOME: config, CHARTROOM_URL: url };
  const file = join(config, "chartroom", "credentials.json");
  const admin = h.adminToken("admin", "ops@example.com");

  // Without a token: refused, with the hint that names login.
  const before = await run(["channels"], env);
  t.equal(before.code, 1);
  t.match(before.stderr, /hint: set CHARTROOM_TOKEN.*chartroom login/);

  const login = await run(["login", "--token", admin], env);
  t.equal(login.code, 0, login.stderr);
  t.match(login.stdout, new RegExp(`^logged in to ${url} as ops@example\\.com \\(admin\\), expires .*; the token is in ${file.replace(/[.]/g, "\\.")} \\(mode 0600\\)\\n$`));
  t.notMatch(login.stdout + login.stderr, admin, "the token is not printed");
  t.equal(statSync(file).mode & 0o777, 0o600, "the file is mode 0600");
  t.equal(statSync(join(config, "chartroom")).mode & 0o777, 0o700, "its directory 0700");
  const stored = JSON.parse(readFileSync(file, "utf8")) as { servers: Record<string, { token: string; sub: string }> };
  t.same(Object.keys(stored.servers), [url], "keyed by the server's URL");
  t.equal(stored.servers[url]!.token, admin);

  const after = await run(["channels"], env);
  t.equal(after.code, 0, after.stderr);
  t.match(rows(after.stdout)[0], ["NAME", "RELEASE", "UPDATED", "DESCRIPTION"], "the stored token was used");
  // Another server URL has no token.
  const other = await run(["channels", "--url", url.replace("127.0.0.1", "localhost")], env);
  t.equal(other.code, 1, "a token is for its own server URL only");
  // CHARTROOM_TOKEN, when set, wins.
  const viewerWins = await run(["yank", "0.58.1", "--reason", "x"], { ...env, CHARTROOM_TOKEN: h.adminToken("viewer") });
  t.match(viewerWins.stderr, /ROLE_REQUIRED/, "CHARTROOM_TOKEN beats the stored token");

  // From stdin, as `chartroom token … | chartroom login` does; it replaces the token of that URL.
  const engineer = h.adminToken("release-engineer", "eng@example.com");
  const piped = await run(["login"], env, `${engineer}\n`);
  t.equal(piped.code, 0, piped.stderr);
  t.match(piped.stdout, /as eng@example\.com \(release-engineer\)/);
  t.equal((JSON.parse(readFileSync(file, "utf8")) as typeof stored).servers[url]!.token, engineer);

  // A token the server refuses is not stored, and never printed.
  const forged = `${admin.slice(0, -4)}AAAA`;
  const bad = await run(["login", "--token", forged], env);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^warning: a token given with --token is visible[^\n]*\nerror: ADMIN_UNAUTHORIZED: [\s\S]*hint: .*refused this token, so it was not stored/);
  t.notMatch(bad.stderr, forged.split(".")[2]!);
  t.equal((JSON.parse(readFileSync(file, "utf8")) as typeof stored).servers[url]!.token, engineer, "the good token stays");
  const notJwt = await run(["login", "--token", "hello"], env);
  t.equal(notJwt.code, 2);
  t.match(notJwt.stderr, /not a JWT/);
  const empty = await run(["login"], env, "");
  t.equal(empty.code, 2);
  t.match(empty.stderr, /no token: pass --token TOKEN or pipe one in/);

  // A stored token the server later refuses: the hint says to log in again; the token is redacted.
  writeFileSync(file, JSON.stringify({ servers: { [url]: { token: forged, savedAt: "x" } } }), { mode: 0o600 });
  const stale = await run(["channels"], env);
  t.equal(stale.code, 1);
  t.match(stale.stderr, /hint: the token chartroom login stored for .* was refused \(expired\?\): chartroom login again/);

  const out = await run(["logout"], env);
  t.equal(out.code, 0, out.stderr);
  t.equal(out.stdout, `removed the token for ${url} from ${file}\n`);
  t.same((JSON.parse(readFileSync(file, "utf8")) as typeof stored).servers, {});
  t.equal(statSync(file).mode & 0o777, 0o600, "still 0600 after a rewrite");
  const again = await run(["logout"], env);
  t.equal(again.stdout, `no token stored for ${url} in ${file}\n`);
  const gone = await run(["channels"], env);
  t.equal(gone.code, 1, "after logout the commands have no token");
});

t.test("license revoke and license values set refuse what the server never met, unless --force", async (t) => {
  const { h, url } = await serve(t);
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin", "licensing@example.com") };

  const typo = await run(["license", "revoke", "not-a-jti", "--reason", "x"], env);
  t.equal(typo.code, 2, "exit 2: nothing known by that jti");
  t.match(typo.stderr, /^error: no license with jti "not-a-jti" is known to .*pass --force to revoke it anyway/);
  t.notMatch(typo.stderr, /usage:/, "no usage line: the command line was well formed");
  const listed = (await h.admin("GET", "/licenses")).json() as { items: unknown[] };
  t.equal(listed.items.length, 0, "nothing was revoked");

  // A license issued here is known; one near it is suggested.
  const issued = await run(["license", "issue", "--sub", "acme", "--channel", "stable", "--json"], env);
  const jti = (JSON.parse(issued.stdout) as { jti: string }).jti;
  const near = await run(["license", "revoke", `${jti.slice(0, -1)}x`, "--reason", "x"], env);
  t.equal(near.code, 2);
  t.match(near.stderr, `did you mean "${jti}"?`);
  const ok = await run(["license", "revoke", jti, "--reason", "contract ended"], env);
  t.equal(ok.code, 0, ok.stderr);

  // A license issued elsewhere that polled: known once the fleet has its poll.
  const foreign = h.license({ sub: "hooli", jti: "external-jti-7" });
  t.equal((await h.poll(foreign)).statusCode, 200);
  await h.ctx.fleet.flush();
  const polled = await run(["license", "revoke", "external-jti-7", "--reason", "leaked"], env);
  t.equal(polled.code, 0, polled.stderr);

  const forced = await run(["license", "revoke", "not-a-jti", "--reason", "issued elsewhere, never polled", "--force"], env);
  t.equal(forced.code, 0, forced.stderr);
  t.match(forced.stdout, /^revoked license not-a-jti \(not issued here\)/);

  // Licensees: one with a license, one that polled, an unknown one.
  const values = join(t.testdir({}), "v.yaml");
  writeFileSync(values, "mysql:\n  install: true\n");
  const unknown = await run(["license", "values", "set", "nobody-typo", values], env);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /^error: no licensee "nobody-typo" is known to .*pass --force/);
  t.equal((await h.admin("GET", "/licenses/nobody-typo/values")).statusCode, 404, "nothing was set");
  const nearSub = await run(["license", "values", "set", "acm", values], env);
  t.match(nearSub.stderr, /did you mean "acme"\?/);
  t.equal((await run(["license", "values", "set", "acme", values], env)).code, 0, "a licensee with a license");
  t.equal((await run(["license", "values", "set", "hooli", values], env)).code, 0, "a licensee that polled");
  t.equal((await run(["license", "values", "set", "acme", values], env)).code, 0, "one with an override already");
  const forcedSub = await run(["license", "values", "set", "nobody-typo", values, "--force"], env);
  t.equal(forcedSub.code, 0, forcedSub.stderr);
  t.equal((await h.admin("GET", "/licenses/nobody-typo/values")).statusCode, 200, "--force sets it");
});

const GOOD = `version: "0.61.0"
chart:
  url: https://charts.wandb.ai
  name: operator-wandb
  version: 0.19.2
images:
  app:
    repository: wandb/local
    tag: "0.61.0"
`;

t.test("release init writes a commented file that lints; lint reports every problem offline", async (t) => {
  const dir = t.testdir({});
  const file = join(dir, "release.yaml");
  const init = await run(["release", "init", file], {});
  t.equal(init.code, 0, init.stderr);
  t.match(init.stdout, `wrote ${file}`);
  const text = readFileSync(file, "utf8");
  t.match(text, /^# A Chartroom release/, "commented");
  t.match(text, /images\.app below becomes\n# values\.app\.image/, "says how images become values");
  const lintTemplate = await run(["release", "lint", file], {});
  t.equal(lintTemplate.code, 0, `the template itself is a valid release: ${lintTemplate.stdout}`);
  t.equal(lintTemplate.stdout, `${file}: a valid release 0.1.0\n`);
  const again = await run(["release", "init", file], {});
  t.equal(again.code, 2, "an existing file is kept");
  t.match(again.stderr, /exists; pass --force to overwrite it/);
  t.equal((await run(["release", "init", file, "--force"], {})).code, 0, "--force overwrites");
  const toStdout = await run(["release", "init", "-"], {});
  t.equal(toStdout.stdout, text, "- prints the template");

  const good = join(dir, "good.yaml");
  writeFileSync(good, GOOD);
  const ok = await run(["release", "lint", good], {});
  t.equal(ok.code, 0);
  t.equal(ok.stdout, `${good}: a valid release 0.61.0\n`);

  // Three problems at once; version: 1.0 is a YAML number, with the hint.
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, "version: 1.0\nchart:\n  url: https://charts.example.com\n  version: 1.0.0\nimages:\n  app:\n    repository: Not A Repo\n    tag: x\ncolour: blue\n");
  const r = await run(["release", "lint", bad], {});
  t.equal(r.code, 1, "exit 1");
  t.match(r.stdout, `${bad}: 4 problems:\n`);
  t.match(r.stdout, /\n {2}version: must be a string, not a number .*write it as a string: version: "1\.0\.0"\n/);
  t.match(r.stdout, /\n {2}chart\.name: /);
  t.match(r.stdout, /\n {2}images\.app\.repository: must be an image repository/);
  t.match(r.stdout, /\n {2}colour: is not a known field\n/);
  const asJson = await run(["release", "lint", bad, "--json"], {});
  t.equal(asJson.code, 1);
  const j = JSON.parse(asJson.stdout) as { valid: boolean; errors: { field: string }[] };
  t.equal(j.valid, false);
  t.same(j.errors.map((e) => e.field).sort(), ["chart.name", "colour", "images.app.repository", "version"]);

  // A YAML syntax error: whole, with the line, the column and the excerpt.
  const broken = join(dir, "broken.yaml");
  writeFileSync(broken, "version: 1.0.0\nchart: {url: x\nnotes: hi\n");
  const b = await run(["release", "lint", broken], {});
  t.equal(b.code, 2);
  t.match(b.stderr, new RegExp(`^error: ${broken.replace(/[.]/g, "\\.")}: line \\d+: not valid YAML or JSON: .+ at column \\d+:(\\n {2}.*)+\\n {2} *\\^`), `whole: ${b.stderr}`);
  const nested = join(dir, "nested.yaml");
  writeFileSync(nested, "key: value: other\n");
  const n = await run(["release", "lint", nested], {});
  t.match(n.stderr, /line 1: not valid YAML or JSON: Nested mappings are not allowed in compact mappings at column 6:\n {2}key: value: other\n {7}\^\n/);

  const missing = await run(["release", "lint", join(dir, "nope.yaml")], {});
  t.equal(missing.code, 2);
  t.match(missing.stderr, /nope\.yaml: cannot be read \(ENOENT\)/);
  t.notOk(existsSync(join(dir, "nope.yaml")));
});
