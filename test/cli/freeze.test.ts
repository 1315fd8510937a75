// `chartroom freeze on|off|status` end to end: main() in-process against a
// real server on a port (testApp + listen); what the commands did is
// checked through the admin API and by a promotion the CLI is refused.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { CHANNELS_DIR } from "../helpers/app.js";
import { run, serve } from "./fixtures/cli-harness.js";

t.test("help lists the freeze commands; bad usage exits 2 without a request", async (t) => {
  const help = await run(["help"], {});
  for (const cmd of ["freeze on --reason TEXT [--until ISO-DATE|2h]", "freeze off --reason TEXT", "freeze status"]) t.match(help.stdout, `  chartroom ${cmd}\n`, `usage lists ${cmd}`);
  // CHARTROOM_URL points nowhere: a request would exit 3, not 2.
  const env = { CHARTROOM_URL: "http://127.0.0.1:9", CHARTROOM_TOKEN: "unused-token-0123456789" };
  const bad: [string[], RegExp][] = [
    [["freeze", "on"], /^error: --reason TEXT is required\n/],
    [["freeze", "on", "--reason", "x", "--until", "tomorrow"], /^error: --until "tomorrow": use an ISO 8601 date-time/],
    [["freeze", "on", "--reason", "x", "--until", "0h"], /more than zero/],
    [["freeze", "on", "--reason", "x", "extra"], /unexpected argument "extra"/],
    [["freeze", "off"], /^error: --reason TEXT is required\n/],
    [["freeze", "status", "now"], /unexpected argument "now"/],
  ];
  for (const [argv, msg] of bad) {
    const r = await run(argv, env);
    t.equal(r.code, 2, `${argv.join(" ")} is a usage error`);
    t.match(r.stderr, msg, argv.join(" "));
  }
  const unknown = await run(["freeze", "frob"], env);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown command "freeze frob"; try "chartroom freeze on" or "chartroom freeze off" or "chartroom freeze status"/);
});

t.test("freeze on, status, a refused promotion, off", async (t) => {
  const { h, url } = await serve(t);
  const admin = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin", "oncall@example.com") };
  const engineer = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("release-engineer", "eng@example.com") };

  const idle = await run(["freeze", "status"], engineer);
  t.equal(idle.code, 0, idle.stderr);
  t.equal(idle.stdout, "promotions are not frozen\n");

  const denied = await run(["freeze", "on", "--reason", "x"], engineer);
  t.equal(denied.code, 1, "a release engineer cannot freeze");
  t.match(denied.stderr, /^error: ROLE_REQUIRED: this action needs the admin role\n/);

  const before = Date.now();
  const on = await run(["freeze", "on", "--reason", "incident 4711", "--until", "2h"], admin);
  t.equal(on.code, 0, on.stderr);
  t.match(on.stdout, /^promotions are FROZEN \(stop the line\)/);
  const table = Object.fromEntries(on.stdout.trimEnd().split("\n").slice(1).map((l) => /^(\w+):\s+(.*)$/.exec(l)!.slice(1)));
  t.equal(table.reason, "incident 4711");
  t.equal(table.by, "oncall@example.com");
  const until = Date.parse(table.until!);
  t.ok(Math.abs(until - (before + 2 * 3600_000)) < 5000, `--until 2h is two hours from now (${table.until})`);

  const json = await run(["freeze", "status", "--json"], engineer);
  t.equal(json.code, 0);
  t.match(JSON.parse(json.stdout), { frozen: true, reason: "incident 4711", by: "oncall@example.com", until: new Date(until).toISOString() });

  const promote = await run(["promote", "0.60.0", "--to", "beta"], engineer);
  t.equal(promote.code, 1, "a promotion is refused");
  t.match(promote.stderr, /^error: FROZEN: promoting 0\.60\.0 to channel beta refused: promotions are frozen \(stop the line\) by oncall@example\.com since .*: incident 4711; it ends by itself at /);
  const rollback = await run(["rollback", "stable", "--reason", "r", "--to", "0.58.1"], engineer);
  t.equal(rollback.code, 0, `a rollback is not (no-op here): ${rollback.stderr}`);

  // apply (on the server's database) that would move a channel: refused, naming the file and the freeze.
  const dir = join(h.dataDir, "declared");
  mkdirSync(join(dir, "releases"), { recursive: true });
  writeFileSync(join(dir, "stable.yaml"), readFileSync(join(CHANNELS_DIR, "stable.yaml"), "utf8").replace(/^release: .*$/m, "release: 0.59.2"));
  const apply = await run(["apply", dir], { DATABASE_URL: h.url, DATA_DIR: h.dataDir });
  t.equal(apply.code, 1, "apply moving a channel is refused");
  t.match(apply.stderr, /^error: FROZEN: apply moving channel stable to 0\.59\.2 \(declared in stable\.yaml\) refused: .*incident 4711.*\nfield: stable\.yaml: release\n$/s);

  const off = await run(["freeze", "off", "--reason", "all clear"], admin);
  t.equal(off.code, 0, off.stderr);
  t.equal(off.stdout, "freeze lifted: promotions work again\n");
  t.equal((await run(["promote", "0.60.0", "--to", "beta"], engineer)).code, 0, "promotions work again");
  const twice = await run(["freeze", "off", "--reason", "again"], admin);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /^error: NOT_FROZEN: promotions are not frozen; nothing to lift\n/);

  const audit = (await h.admin("GET", "/audit?targetType=freeze")).json() as { items: { action: string; actor: string; after: { reason: string } }[] };
  t.same(audit.items.map((a) => [a.action, a.actor, a.after.reason]), [["freeze.off", "oncall@example.com", "all clear"], ["freeze.on", "oncall@example.com", "incident 4711"]]);
});
