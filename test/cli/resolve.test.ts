// `chartroom resolve SUB [--channel NAME] [--json]` end to end: main() in
// process against a real server on a port; what it prints is what that
// licensee's poll answers (ETag, release), with the reasons.
import t from "tap";
import { rows, run } from "./fixtures/cli-harness.js";
import { testApp, type TestApp } from "../helpers/app.js";

async function pollOf(h: TestApp, token: string): Promise<{ etag: string; releaseId: string; version: string }> {
  const res = await h.poll(token);
  const metadata = (res.json() as { metadata: Record<string, string> }).metadata;
  return { etag: res.headers.etag as string, releaseId: metadata.releaseId!, version: metadata.version! };
}

t.test("resolve prints what the poll answers, and why", async (t) => {
  const h = await testApp(t, { env: { ANONYMOUS_CHANNEL: "stable" } });
  const url = await h.app.listen({ port: 0, host: "127.0.0.1" });
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("viewer") };
  t.equal((await h.admin("PUT", "/licenses/acme/values", { values: { app: { replicas: 5 } } })).statusCode, 200);

  const plain = await pollOf(h, h.license({ sub: "customer-1", channel: "stable" }));
  const text = await run(["resolve", "customer-1"], env);
  t.equal(text.code, 0, text.stderr);
  t.equal(text.stderr, "");
  const lines = text.stdout.split("\n");
  t.equal(lines[0], "sub:     customer-1");
  t.equal(lines[1], "channel: stable");
  t.equal(lines[2], `release: ${plain.version} (id ${plain.releaseId})`);
  t.equal(lines[3], `etag:    ${plain.etag}`, "the poll's ETag");
  t.equal(lines[4], "reasons:");
  // An indented table: the rows past the indent.
  const reasons = rows(lines.slice(5).map((l) => l.replace(/^ {2}/, "")).join("\n"));
  t.same(reasons[0], ["RULE", "DETAIL"]);
  t.same(reasons.slice(1).map((r) => r[0]), ["channel", "channel"], "the default channel, then the channel's release");
  t.match(reasons[1]![1], /^no channel given: stable/);
  t.equal(reasons[2]![1], `channel stable is at ${plain.version}`);

  const acme = await pollOf(h, h.license({ sub: "acme", channel: "beta" }));
  const json = await run(["resolve", "acme", "--channel", "beta", "--json"], env);
  t.equal(json.code, 0, json.stderr);
  const body = JSON.parse(json.stdout) as { sub: string; channel: string; release: { id: string; version: string }; etag: string; reasons: { rule: string }[] };
  t.equal(body.channel, "beta");
  t.equal(body.etag, acme.etag, "--json: the poll's ETag (with the licensee's values)");
  t.same(body.release, { id: acme.releaseId, version: acme.version });
  t.same(body.reasons.map((r) => r.rule), ["channel", "overrides"]);

  const anonymous = await run(["resolve", "(anonymous)"], env);
  t.equal(anonymous.code, 0, anonymous.stderr);
  t.match(anonymous.stdout, /anonymous +an anonymous poll/);

  // refusals: the server's code on stderr, exit 1; usage: exit 2
  const missing = await run(["resolve", "customer-1", "--channel", "nope"], env);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^error: CHANNEL_NOT_FOUND: channel nope does not exist\n/);
  t.equal(missing.stdout, "");
  const bad = await run(["resolve", "a\u0007b"], env);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /VALIDATION_FAILED.*\nfield: sub\n/s);
  const noToken = await run(["resolve", "customer-1"], { CHARTROOM_URL: url });
  t.equal(noToken.code, 1);
  t.match(noToken.stderr, /ADMIN_UNAUTHORIZED[\s\S]*hint: set CHARTROOM_TOKEN/);
  for (const [argv, msg] of [[["resolve"], /missing SUB/], [["resolve", "a", "b"], /unexpected argument "b"/], [["resolve", "a", "--channel"], /--channel/]] as const) {
    const r = await run([...argv], env);
    t.equal(r.code, 2, `${argv.join(" ")}: usage error`);
    t.match(r.stderr, msg);
  }
  const help = await run(["help"], {});
  t.match(help.stdout, "  chartroom resolve SUB [--channel NAME]\n", "listed in the help");
});
