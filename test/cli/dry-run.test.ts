// `chartroom promote … --dry-run` and `chartroom rollback … --dry-run`
// against a real server: the decision, the licensees, a readable values
// diff; colours only on a terminal and never with NO_COLOR; --json the
// server's answer; nothing changed; a hostile value cannot drive the
// terminal even in colour. The path rendering is table-tested.
/* eslint-disable no-control-regex -- the assertions are about terminal control characters */
import t from "tap";
import { main } from "../../src/cli/main.js";
import { readablePath } from "../../src/cli/diff-text.js";
import { run, serve } from "./fixtures/cli-harness.js";

/** main() with a stdout that says it is (or is not) a terminal. */
async function runOn(tty: boolean, argv: string[], env: Record<string, string | undefined>) {
  let stdout = "";
  let stderr = "";
  const code = await main(argv, { env, stdout: { isTTY: tty, write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } });
  return { code, stdout, stderr };
}

const ANSI = /\u001b\[[0-9;]*m/g;

t.test("readable paths", async (t) => {
  const cases: [string, string][] = [
    ["/app/image/tag", "app.image.tag"],
    ["/list/2/name", "list[2].name"],
    ["/ingress/annotations/nginx.ingress.kubernetes.io~1proxy-body-size", 'ingress.annotations["nginx.ingress.kubernetes.io/proxy-body-size"]'],
    ["/a~0b", '["a~b"]'],
    ["/", '[""]'],
    ["", "(everything)"],
  ];
  for (const [pointer, shown] of cases) t.equal(readablePath(pointer), shown, pointer);
});

t.test("promote and rollback --dry-run", async (t) => {
  const { h, url } = await serve(t);
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("release-engineer", "cli@example.com") };
  for (const sub of ["acme", "globex"]) t.equal((await h.poll(h.license({ sub, channel: "stable" }))).statusCode, 200);
  await h.ctx.fleet.flush(true);
  const historyBefore = (await h.admin("GET", "/channels/stable/history", undefined, "viewer")).json();

  const plainRun = await run(["promote", "0.59.2", "--to", "stable", "--from", "beta", "--expect", "0.58.1", "--dry-run"], env);
  t.equal(plainRun.code, 0, plainRun.stderr);
  t.comment(plainRun.stdout);
  const out = plainRun.stdout;
  t.match(out, /^dry run: nothing was changed\nwould promote stable: 0\.58\.1 → 0\.59\.2\nlicensees on stable: 2 \(last served 0\.58\.1: 2\)\n/);
  t.match(out, /^ {2}~ app\.image\.tag: "0\.58\.1" → "0\.59\.2"$/m, "a replaced value, before and after");
  t.match(out, /^ {2}[+~-] /m);
  t.match(out, /^chart: no change$|^chart \(\d+ changes?\):$/m);
  t.match(out, /^values \(\d+ changes?\):$/m);
  t.notMatch(out, ANSI, "no colour when stdout is not a terminal");
  t.same((await h.admin("GET", "/channels/stable/history", undefined, "viewer")).json(), historyBefore, "nothing written");
  t.equal((await h.admin("GET", "/channels/stable", undefined, "viewer")).json().release.version, "0.58.1");

  const tty = await runOn(true, ["promote", "0.59.2", "--to", "stable", "--from", "beta", "--dry-run"], env);
  t.equal(tty.code, 0, tty.stderr);
  t.match(tty.stdout, /\u001b\[33m {2}~ app\.image\.tag: "0\.58\.1" → "0\.59\.2"\u001b\[0m/, "a change in yellow on a terminal");
  t.match(tty.stdout, /\u001b\[1mdry run: nothing was changed\u001b\[0m/, "the heading in bold");
  t.equal(tty.stdout.replace(ANSI, ""), plainRun.stdout, "the same text under the colours");
  t.equal((await runOn(true, ["promote", "0.59.2", "--to", "stable", "--from", "beta", "--dry-run"], { ...env, NO_COLOR: "1" })).stdout, plainRun.stdout, "NO_COLOR: no colours");
  t.equal((await runOn(true, ["promote", "0.59.2", "--to", "stable", "--from", "beta", "--dry-run"], { ...env, TERM: "dumb" })).stdout, plainRun.stdout, "TERM=dumb: no colours");

  // A release whose values would drive the terminal if printed raw (C1 CSI, a bidi override, in a key and a value): no raw control survives, in colour or not.
  const hostileRelease = { version: "0.61.0", chart: { url: "https://charts.example.com", name: "operator-wandb", version: "0.20.0" }, images: {}, values: { "\u009b31mkey": "\u009b2J\u202eevil" } };
  t.equal((await h.admin("POST", "/releases", hostileRelease, "release-engineer")).statusCode, 201);
  for (const terminal of [true, false]) {
    const hostile = await runOn(terminal, ["promote", "0.61.0", "--to", "stable", "--dry-run"], env);
    t.equal(hostile.code, 0, hostile.stderr);
    t.match(hostile.stdout, /^(\u001b\[32m)? {2}\+ \["key"\]: "evil"(\u001b\[0m)?$/m, `the hostile change is shown, its escape sequences removed whole (terminal: ${terminal})`);
    t.notMatch(hostile.stdout.replace(ANSI, ""), /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, `no control character but the colours (terminal: ${terminal})`);
  }

  const json = await runOn(true, ["promote", "0.59.2", "--to", "stable", "--from", "beta", "--dry-run", "--json"], env);
  t.equal(json.code, 0);
  const answer = JSON.parse(json.stdout);
  t.match(answer, { dryRun: true, decision: { action: "promote", from: { version: "0.58.1" }, to: { version: "0.59.2" } }, affected: { licensees: 2, byRelease: { "0.58.1": 2 } } });
  t.ok(Array.isArray(answer.valuesDiff) && answer.valuesDiff.length > 0);

  const noop = await run(["promote", "0.58.1", "--to", "stable", "--dry-run"], env);
  t.equal(noop.stdout, "dry run: nothing was changed\nwould change nothing: channel stable is already at 0.58.1; nothing changed\nlicensees on stable: 2 (last served 0.58.1: 2)\n");

  const refused = await run(["promote", "0.59.2", "--to", "stable", "--expect", "0.50.0", "--dry-run"], env);
  t.equal(refused.code, 1, "a refused dry run exits 1 like the promotion");
  t.match(refused.stderr, /^error: PROMOTION_CONFLICT: /);

  // Promote for real, then preview the rollback.
  t.equal((await run(["promote", "0.59.2", "--to", "stable", "--from", "beta"], env)).code, 0);
  const back = await run(["rollback", "stable", "--reason", "bad", "--dry-run"], env);
  t.equal(back.code, 0, back.stderr);
  t.match(back.stdout, /^would roll back stable: 0\.59\.2 → 0\.58\.1$/m);
  t.match(back.stdout, /^ {2}~ app\.image\.tag: "0\.59\.2" → "0\.58\.1"$/m);
  t.equal((await h.admin("GET", "/channels/stable", undefined, "viewer")).json().release.version, "0.59.2", "the rollback dry run changed nothing");

  const help = await run(["promote", "--help"], {});
  t.match(help.stdout, /--dry-run/);
});
