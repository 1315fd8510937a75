// `chartroom webhooks add|list|rm|deliveries` end to end: main() in-process
// against a real server on a port, and a receiver the test runs.
import { createHmac } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { run, rows, serve } from "./fixtures/cli-harness.js";
import { tempDir } from "../helpers/db.js";
import { webhookReceiver } from "../helpers/webhook-receiver.js";
import { eventually } from "../helpers/eventually.js";

const SECRET = "cli-webhook-secret-0123456789";

t.test("help lists the webhook commands; bad usage exits 2 without a request", async (t) => {
  const help = await run(["help"], {});
  for (const cmd of ["webhooks add URL --secret S|--secret-file FILE [--events a,b] [--format slack]", "webhooks list", "webhooks rm ID", "webhooks deliveries ID [--limit N] [--cursor C]"]) t.match(help.stdout, `  chartroom ${cmd}\n`, `usage lists ${cmd}`);
  const env = { CHARTROOM_URL: "http://127.0.0.1:9", CHARTROOM_TOKEN: "unused-token-0123456789" };
  const bad: [string[], RegExp][] = [
    [["webhooks", "add", "https://x.example.com"], /^error: --secret S, --secret-file FILE or CHARTROOM_WEBHOOK_SECRET is required\n/],
    [["webhooks", "add", "https://x.example.com", "--secret", "short"], /the secret must be 16 to 256 characters/],
    [["webhooks", "add", "https://x.example.com", "--secret", SECRET, "--secret-file", "f"], /--secret and --secret-file: give one of them/],
    [["webhooks", "add", "https://x.example.com", "--secret-file", "/no/such/file"], /\/no\/such\/file: cannot be read/],
    [["webhooks", "add", "--secret", SECRET], /URL/],
    [["webhooks", "rm"], /ID/],
    [["webhooks", "deliveries", "x", "--limit", "0"], /--limit must be a whole number/],
  ];
  for (const [argv, msg] of bad) {
    const r = await run(argv, env);
    t.equal(r.code, 2, `${argv.join(" ")} is a usage error`);
    t.match(r.stderr, msg, argv.join(" "));
  }
});

t.test("add, list, deliveries, rm", async (t) => {
  const { h, url } = await serve(t);
  const admin = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin", "oncall@example.com") };
  const rx = await webhookReceiver(t);

  const refused = await run(["webhooks", "add", "ftp://x.example.com", "--secret", SECRET], admin);
  t.equal(refused.code, 1);
  t.match(refused.stderr, /^error: VALIDATION_FAILED: url: must be an http:\/\/ or https:\/\/ URL.*\nfield: url\n$/s);
  const unknown = await run(["webhooks", "add", rx.url, "--secret", SECRET, "--events", "freeze.changed,nope"], admin);
  t.equal(unknown.code, 1);
  t.match(unknown.stderr, /field: events\.1/);

  const added = await run(["webhooks", "add", rx.url, "--secret", SECRET, "--events", "freeze.changed, license.revoked", "--format", "slack"], admin);
  t.equal(added.code, 0, added.stderr);
  const id = /^webhook (\S+) created: /.exec(added.stdout)?.[1];
  t.ok(id, "the id is printed");
  t.match(added.stdout, /events:\s+license\.revoked, freeze\.changed\n/);
  t.match(added.stdout, /format:\s+slack\n/);
  t.notMatch(added.stdout + added.stderr, SECRET, "the secret is not printed");

  const listed = await run(["webhooks", "list"], admin);
  t.equal(listed.code, 0);
  t.same(rows(listed.stdout)[0], ["ID", "URL", "FORMAT", "EVENTS", "CREATED"]);
  t.same(rows(listed.stdout)[1]!.slice(0, 4), [id, rx.url, "slack", "license.revoked,freeze.changed"]);
  t.notMatch((await run(["webhooks", "list", "--json"], admin)).stdout, SECRET);

  t.equal((await run(["freeze", "on", "--reason", "incident"], admin)).code, 0);
  const seen = await eventually(() => rx.received.length >= 1 || undefined, { within: 20_000, every: 25 });
  t.ok(seen.ok, `delivered: ${seen.summary}`);
  t.match(rx.received[0]!.json.text, /promotions FROZEN .*incident/);
  const log = await eventually(async () => {
    const r = await run(["webhooks", "deliveries", id!], admin);
    return /delivered/.test(r.stdout) ? r : undefined;
  }, { within: 20_000, every: 50 });
  t.ok(log.ok, `the delivery log says delivered: ${log.summary}`);
  t.same(rows(log.value!.stdout)[0], ["ID", "EVENT", "SUBJECT", "STATE", "ATTEMPTS", "LAST", "NEXT/DELIVERED"]);
  t.same(rows(log.value!.stdout)[1]!.slice(1, 6), ["freeze.changed", "freeze", "delivered", "1", "HTTP 200"]);

  const rm = await run(["webhooks", "rm", id!], admin);
  t.equal(rm.code, 0, rm.stderr);
  t.equal((await run(["webhooks", "list"], admin)).stdout, "no webhooks\n");
  const again = await run(["webhooks", "rm", id!], admin);
  t.equal(again.code, 1);
  t.match(again.stderr, /^error: WEBHOOK_NOT_FOUND: webhook .* does not exist\n/);
});

t.test("the secret from --secret-file (its final line break dropped), stdin or CHARTROOM_WEBHOOK_SECRET: never on argv", async (t) => {
  const { h, url } = await serve(t);
  const admin = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin", "oncall@example.com") };
  const file = join(tempDir(t), "secret");
  writeFileSync(file, "from-a-file-0123456789abcdef\n");
  const sources: [string, string[], Record<string, string>, string | undefined][] = [
    ["from-a-file-0123456789abcdef", ["--secret-file", file], {}, undefined],
    ["from-stdin-0123456789abcdef", ["--secret-file", "-"], {}, "from-stdin-0123456789abcdef\n"],
    ["from-the-env-0123456789abcdef", [], { CHARTROOM_WEBHOOK_SECRET: "from-the-env-0123456789abcdef" }, undefined],
    [SECRET, ["--secret", SECRET], { CHARTROOM_WEBHOOK_SECRET: "the-flag-wins-0123456789" }, undefined],
  ];
  const receivers = [];
  for (const [secret, argv, env, stdin] of sources) {
    const rx = await webhookReceiver(t);
    receivers.push({ rx, secret });
    const added = await run(["webhooks", "add", rx.url, ...argv, "--events", "freeze.changed"], { ...admin, ...env }, stdin);
    t.equal(added.code, 0, `${argv.join(" ") || "env"}: ${added.stderr}`);
    t.notMatch(added.stdout + added.stderr, secret, "the secret is not printed");
  }
  t.equal((await run(["freeze", "on", "--reason", "incident"], admin)).code, 0);
  for (const { rx, secret } of receivers) {
    const seen = await eventually(() => rx.received.length >= 1 || undefined, { within: 20_000, every: 25 });
    t.ok(seen.ok, `delivered: ${seen.summary}`);
    const r = rx.received[0]!;
    t.equal(r.headers["x-chartroom-signature"], `sha256=${createHmac("sha256", secret).update(Buffer.from(r.body, "utf8")).digest("hex")}`, `signed with ${secret}`);
  }
});
