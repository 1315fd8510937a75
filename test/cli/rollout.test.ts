// `chartroom promote … --steps` and `chartroom rollout …` end to end: main()
// in-process against a real server on a port (testApp + listen); what the
// commands did is checked through the admin API. The renderings and the
// --steps grammar are table-tested in test/cli/rollout-text.test.ts.
import t from "tap";
import { rows, run, serve } from "./fixtures/cli-harness.js";

/** The "name: value" lines of a text, as an object (the first of each name). */
function fieldsOf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^([a-z][a-z ]*):\s+(.*)$/.exec(line);
    if (m && !(m[1]! in out)) out[m[1]!] = m[2]!;
  }
  return out;
}

t.test("a rollout from the command line: start, status, pause, resume, advance, abort, list", async (t) => {
  const { h, url } = await serve(t);
  const engineer = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("release-engineer", "eng@example.com") };
  const admin = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin", "oncall@example.com") };
  const viewer = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("viewer", "vera@example.com") };
  for (const sub of ["acme", "globex", "initech"]) t.equal((await h.poll(h.license({ sub, channel: "stable" }))).statusCode, 200, `${sub} polls stable`);
  await h.ctx.fleet.flush(true);

  const none = await run(["rollout", "status", "stable"], viewer);
  t.equal(none.code, 1, "no rollout yet");
  t.match(none.stderr, /^error: ROLLOUT_NOT_FOUND: /);

  const usage = await run(["promote", "0.59.2", "--to", "stable", "--steps", "5:2h,50"], engineer);
  t.equal(usage.code, 2, "a bad --steps is a usage error");
  t.match(usage.stderr, /^error: --steps: step 2 "50": the last step must be 100/);

  const dry = await run(["promote", "0.59.2", "--to", "stable", "--from", "beta", "--steps", "5:1h,100", "--dry-run"], engineer);
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /^dry run: nothing was changed\nwould promote stable: 0\.58\.1 → 0\.59\.2\n/, "--steps --dry-run: the usual dry run");
  t.equal((await run(["rollout", "status", "stable"], viewer)).code, 1, "the dry run started nothing");

  const start = await run(
    ["promote", "0.59.2", "--to", "stable", "--from", "beta", "--reason", "GA", "--steps", "5:1h,50:2h,100:3h", "--include", "acme", "--include", "initech,hooli", "--exclude", "globex"],
    engineer,
  );
  t.equal(start.code, 0, start.stderr);
  t.comment(start.stdout);
  t.match(start.stdout, /^rollout started: stable 0\.58\.1 → 0\.59\.2, step 1\/3 at 5 %\n/);
  t.match(start.stdout, /^> 1 +5 % +1h +current$/m, "the first step is current");
  t.match(start.stdout, /^ {2}3 +100 % +3h +pending$/m);
  t.match(start.stdout, /^next step: +\S+ \(in (59m|1h 0m)\)$/m, "the first step's bake ends in an hour");
  t.match(start.stdout, /^watch: +chartroom rollout status stable$/m);
  const id = fieldsOf(start.stdout).id!;
  t.match(id, /^[0-9a-f-]{36}$/, "the rollout id is shown");
  t.equal((await h.admin("GET", "/channels/stable", undefined, "viewer")).json().release.version, "0.58.1", "the channel's release stays until the rollout completes");

  const listed = await run(["channels"], viewer);
  t.match(listed.stdout, /^stable +0\.58\.1, rolling out 0\.59\.2 at 5 % \(step 1\/3, progressing\) +/m, "channels: the release and the rollout");
  t.match(listed.stdout, /^beta +0\.59\.2 +\d/m, "a channel without a rollout: its release only");
  const shown = await run(["channel", "stable"], viewer);
  t.match(shown.stdout, /^release: +0\.58\.1\nrollout: +0\.59\.2 at 5 % \(step 1\/3, progressing\); chartroom rollout status stable$/m);
  t.match((await run(["channel", "beta"], viewer)).stdout, /^rollout: +none$/m);

  const again = await run(["promote", "0.60.0", "--to", "stable"], engineer);
  t.equal(again.code, 1, "one rollout per channel");
  t.match(again.stderr, /^error: ROLLOUT_IN_PROGRESS: /);

  // acme (included) polls again and is served the target; the fleet records it.
  t.equal((await h.poll(h.license({ sub: "acme", channel: "stable" }))).statusCode, 200);
  await h.ctx.fleet.flush(true);
  // and reports it healthy (docs/api.md §9)
  const report = await h.app.inject({ method: "POST", url: "/api/v1/operator/report", headers: { authorization: `Bearer ${h.license({ sub: "acme", channel: "stable" })}`, "content-type": "application/json" }, payload: { release: "0.59.2", state: "healthy" } });
  t.equal(report.statusCode, 202, report.body);

  const status = await run(["rollout", "status", "stable"], viewer);
  t.equal(status.code, 0, status.stderr);
  t.comment(status.stdout);
  t.match(status.stdout, /^rollout of 0\.59\.2 on stable: progressing, step 1\/3 at 5 %; next step at /);
  const f = fieldsOf(status.stdout);
  t.equal(f.id, id);
  t.equal(f.include, "acme, initech, hooli", "--include, repeated and comma-separated");
  t.equal(f.exclude, "globex");
  t.match(f.started, /^\S+Z by eng@example\.com$/);
  t.equal(f.reason, "GA");
  t.equal(f.licensees, "3", "the channel's licensees");
  t.equal(f["in cohort"], "2", "acme and initech are included; globex is excluded");
  t.equal(f["served target"], "1", "acme was served 0.59.2 since");
  t.equal(f.healthy, "1", "acme's health report on the target");
  t.equal(f.failed, "0", "none failed: 0, not a dash");

  const json = await run(["rollout", "status", "stable", "--json"], viewer);
  t.equal(json.code, 0);
  t.match(JSON.parse(json.stdout), { id, channel: "stable", state: "progressing", step: 1, percent: 5, release: { version: "0.59.2" }, previous: { version: "0.58.1" }, include: ["acme", "initech", "hooli"], exclude: ["globex"] });

  const viewerPause = await run(["rollout", "pause", "stable", "--reason", "x"], viewer);
  t.equal(viewerPause.code, 1, "a viewer cannot pause");
  t.match(viewerPause.stderr, /^error: ROLE_REQUIRED: /);

  const pause = await run(["rollout", "pause", "stable", "--reason", "error rates"], engineer);
  t.equal(pause.code, 0, pause.stderr);
  t.equal(pause.stdout, "rollout of 0.59.2 on stable: paused at step 1/3 at 5 %\nresume with: chartroom rollout resume stable --reason TEXT\n");
  const twice = await run(["rollout", "pause", "stable", "--reason", "again"], engineer);
  t.equal(twice.code, 0, "pausing a paused rollout is not an error");
  t.equal(twice.stdout, "the rollout of channel stable is already paused; nothing changed\nrollout of 0.59.2 on stable: paused at step 1/3 at 5 %\n");
  const paused = await run(["rollout", "status", "stable"], viewer);
  t.match(paused.stdout, /^> 1 +5 % +1h +current \(paused\)$/m);
  t.match(fieldsOf(paused.stdout)["next step"], "none while paused");

  t.equal((await run(["freeze", "on", "--reason", "incident 4711"], admin)).code, 0);
  const frozen = await run(["rollout", "resume", "stable", "--reason", "false alarm"], engineer);
  t.equal(frozen.code, 1, "no resume during a freeze");
  t.match(frozen.stderr, /^error: FROZEN: .*incident 4711/);
  t.equal((await run(["freeze", "off", "--reason", "over"], admin)).code, 0);

  const resume = await run(["rollout", "resume", "stable", "--reason", "false alarm"], engineer);
  t.equal(resume.code, 0, resume.stderr);
  t.match(resume.stdout, /^rollout of 0\.59\.2 on stable: progressing, step 1\/3 at 5 %; next step at .*\nwatch with: chartroom rollout status stable\n$/);

  const advance = await run(["rollout", "advance", "stable", "--reason", "canaries fine"], engineer);
  t.equal(advance.code, 0, advance.stderr);
  t.match(advance.stdout, /^rollout of 0\.59\.2 on stable: progressing, step 2\/3 at 50 %; next step at \S+ \(in (1h 59m|2h 0m)\)\n/);

  const force = await run(["rollout", "advance", "stable", "--reason", "hurry", "--force"], engineer);
  t.equal(force.code, 1, "--force needs the admin role");
  t.match(force.stderr, /^error: ROLE_REQUIRED: /);

  const abort = await run(["rollout", "abort", "stable", "--reason", "login broken"], engineer);
  t.equal(abort.code, 0, abort.stderr);
  t.equal(abort.stdout, "rollout of 0.59.2 on stable: aborted at step 2/3; every licensee is back on 0.58.1\n");
  const aborted = await run(["rollout", "status", "stable"], viewer);
  t.match(fieldsOf(aborted.stdout).ended, /^\S+Z by eng@example\.com: /, "when and by whom it ended");
  t.notMatch(aborted.stdout, /^next step:/m);

  const idle = await run(["rollout", "pause", "stable", "--reason", "x"], engineer);
  t.equal(idle.code, 1, "no active rollout");
  t.match(idle.stderr, /^error: NO_ACTIVE_ROLLOUT: /);

  // A second rollout, advanced through its only step by an admin with --force: it completes.
  const second = await run(["promote", "0.59.2", "--to", "stable", "--steps", "100:1h"], engineer);
  t.equal(second.code, 0, second.stderr);
  const done = await run(["rollout", "advance", "stable", "--reason", "go", "--force"], admin);
  t.equal(done.code, 0, done.stderr);
  t.equal(done.stdout, "rollout of 0.59.2 on stable: completed; stable is on 0.59.2\n");
  t.equal((await h.admin("GET", "/channels/stable", undefined, "viewer")).json().release.version, "0.59.2", "the channel's release is the target");

  const list = await run(["rollout", "list", "stable"], viewer);
  t.equal(list.code, 0, list.stderr);
  const table = rows(list.stdout);
  t.same(table[0], ["STARTED", "ID", "TARGET", "PREVIOUS", "STATE", "STEP", "BY", "ENDED"]);
  t.same(table.slice(1).map((r) => [r[2], r[3], r[4], r[5]]), [["0.59.2", "0.58.1", "completed", "1/1 (100 %)"], ["0.59.2", "0.58.1", "aborted", "2/3 (50 %)"]], "newest first");
  t.equal(table[2]![1], id);
  const first = await run(["rollout", "list", "stable", "--limit", "1"], viewer);
  t.equal(rows(first.stdout).length, 2, "one rollout a page");
  t.match(first.stderr, /^more: chartroom rollout list stable --limit 1 --cursor \S+\n$/, "the next page's command on stderr");

  const unknown = await run(["rollout", "status", "nope"], viewer);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /^error: CHANNEL_NOT_FOUND: /);
});
