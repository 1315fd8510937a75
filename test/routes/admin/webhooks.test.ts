// Webhooks (docs/api.md §10) over HTTP, on SQLite and PostgreSQL, with a
// receiver the test runs: signed CloudEvents (the signature checked here
// with node:crypto, not Chartroom's code), retries with the same event id
// and none after the acknowledgement, order per channel, the delivery log,
// bad input named by field, secrets never answered or logged, and the
// outbox written only with a committed change.
import { createHmac } from "node:crypto";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { eachProvider } from "../../helpers/db.js";
import { CHANNELS_DIR, testApp, type TestApp } from "../../helpers/app.js";
import { eventually } from "../../helpers/eventually.js";
import { webhookReceiver, type Received } from "../../helpers/webhook-receiver.js";
import { assertError, call, createRelease } from "./fixtures/admin-helpers.js";
import type { DeliveryPageDto, WebhookDto } from "../../../src/routes/admin/dto/webhooks.js";

const SECRET = "s3cret-of-the-receiver-0123456789";
/** Fast ticks and back-off, so retries take milliseconds. */
const FAST = { WEBHOOK_TICK_MS: "50", WEBHOOK_RETRY_BASE_MS: "100", WEBHOOK_RETRY_MAX_MS: "400" };
/** Not a promise to users: only a product that never gets there fails. */
const GENEROUS_MS = 20_000;

function verified(r: Received, secret = SECRET): boolean {
  const expected = `sha256=${createHmac("sha256", secret).update(Buffer.from(r.body, "utf8")).digest("hex")}`;
  return r.headers["x-chartroom-signature"] === expected;
}

async function addHook(t: Test, h: TestApp, body: Record<string, unknown>): Promise<WebhookDto> {
  const res = await call(h, "POST", "/webhooks", { body: { secret: SECRET, ...body } });
  t.equal(res.statusCode, 201, `webhook created: ${res.body.slice(0, 200)}`);
  return res.json() as WebhookDto;
}

async function deliveries(h: TestApp, id: string): Promise<DeliveryPageDto> {
  const res = await call(h, "GET", `/webhooks/${id}/deliveries`);
  if (res.statusCode !== 200) throw new Error(`deliveries: ${res.statusCode} ${res.body}`);
  return res.json() as DeliveryPageDto;
}

async function until(t: Test, what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  const r = await eventually(async () => (await probe()) || undefined, { within: GENEROUS_MS, every: 25 });
  t.ok(r.ok, `${what}: ${r.summary}`);
}

await eachProvider(t, "a receiver gets rollout.started and channel.promoted as signed CloudEvents", async (t, provider) => {
  const h = await testApp(t, { provider, captureLogs: true, env: FAST });
  const rx = await webhookReceiver(t);
  const hook = await addHook(t, h, { url: rx.url, events: ["channel.promoted", "rollout.started"] });
  t.same(Object.keys(hook).sort(), ["createdAt", "createdBy", "events", "format", "id", "url"], "the answer has no secret");
  t.same(hook.events, ["channel.promoted", "rollout.started"]);
  t.equal(hook.format, "cloudevents", "CloudEvents by default");

  t.equal((await call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2", reason: "GA" }, role: "release-engineer" })).statusCode, 200);
  const started = await call(h, "POST", "/channels/beta/promote", { body: { release: "0.60.0", rollout: { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }] } }, role: "release-engineer" });
  t.equal(started.statusCode, 202);
  // Not subscribed: never sent.
  await createRelease(t, h, "0.61.0");

  await until(t, "both events arrive", () => rx.received.length >= 2);
  const [promoted, rollout] = rx.received;
  for (const r of [promoted!, rollout!]) {
    t.ok(verified(r), `${String(r.json.type)}: X-Chartroom-Signature is the HMAC-SHA256 of the exact body`);
    t.notOk(verified(r, "another-secret-0123456789"), "and not of another secret");
    t.match(r.headers["content-type"], /^application\/cloudevents\+json/);
    t.match(r.json, { specversion: "1.0", source: "/chartroom", datacontenttype: "application/json" });
    t.match(String(r.json.id), /^[0-9a-f-]{36}$/);
    t.ok(!Number.isNaN(Date.parse(String(r.json.time))), "time is a date");
  }
  t.equal(promoted!.json.type, "io.chartroom.channel.promoted");
  t.equal(promoted!.json.subject, "channels/stable");
  t.match(promoted!.json.data, { channel: "stable", from: "0.58.1", to: "0.59.2", reason: "GA", by: "release-engineer@example.com" });
  t.equal(rollout!.json.type, "io.chartroom.rollout.started");
  t.equal(rollout!.json.subject, "channels/beta");
  t.match(rollout!.json.data, { channel: "beta", rollout: { id: (started.json() as { id: string }).id, release: "0.60.0", previous: "0.59.2", state: "progressing", step: 1, steps: 2, percent: 10 } });

  // The receiver has the request a moment before the dispatcher has recorded its answer.
  await until(t, "both recorded", async () => (await deliveries(h, hook.id)).items.every((d) => d.state !== "pending"));
  const log = await deliveries(h, hook.id);
  t.equal(log.items.length, 2, "two deliveries in the log");
  t.match(log.items[0], { eventId: rollout!.json.id, type: "rollout.started", state: "delivered", attempts: 1, lastStatus: 200, nextAttemptAt: null }, "newest first");
  t.ok(log.items[0]!.deliveredAt);
  t.equal(log.items[1]!.eventId, promoted!.json.id);

  // The log keeps finished deliveries 30 days (pruned by the dispatcher): a prune as of a later moment forgets them.
  t.equal(await h.ctx.store.webhooks.prune(new Date(Date.now() - 86_400_000)), 0, "a prune keeps recent deliveries");
  t.equal((await deliveries(h, hook.id)).items.length, 2);
  t.equal(await h.ctx.store.webhooks.prune(new Date(Date.now() + 1000)), 2, "and forgets older ones");
  t.equal((await deliveries(h, hook.id)).items.length, 0);

  const list = await call(h, "GET", "/webhooks");
  t.equal(list.statusCode, 200);
  t.notMatch(list.body, SECRET, "GET /webhooks never answers the secret");
  t.notMatch((await call(h, "GET", "/audit")).body, SECRET, "nor the audit log");
  t.notOk(h.logs.some((l) => l.includes(SECRET)), "nor any log line");
  t.ok(h.logs.some((l) => l.includes('"webhook created"')), "the creation is logged");

  const metrics = (await h.app.inject("/metrics")).body;
  t.match(metrics, /chartroom_webhook_deliveries_total\{outcome="delivered"\} 2/);
  t.match(metrics, /chartroom_webhook_pending 0/);
});

await eachProvider(t, "500 twice, then 200: the same event three times, then never again", async (t, provider) => {
  const h = await testApp(t, { provider, captureLogs: true, env: FAST });
  const rx = await webhookReceiver(t, (n) => (n <= 2 ? 500 : 200));
  const hook = await addHook(t, h, { url: rx.url });
  t.equal(hook.events.length, 11, "every event by default");
  await h.admin("PUT", "/freeze", { reason: "incident 7" });
  await until(t, "three attempts", () => rx.received.length >= 3);
  const ids = rx.received.map((r) => r.json.id);
  t.equal(new Set(ids).size, 1, "one event id on every attempt");
  t.equal(rx.received[0]!.json.type, "io.chartroom.freeze.changed");
  t.match(rx.received[0]!.json.data, { frozen: true, reason: "incident 7", by: "admin@example.com" });
  t.ok(rx.received.every((r) => r.body === rx.received[0]!.body && verified(r)), "the same signed bytes each time");
  // Ten ticks more: an acknowledged delivery is not sent again.
  await new Promise((r) => setTimeout(r, 500));
  t.equal(rx.received.length, 3, "no fourth request");
  const [d] = (await deliveries(h, hook.id)).items;
  t.match(d, { state: "delivered", attempts: 3, lastStatus: 200, lastError: null });
  t.ok(h.logs.some((l) => l.includes("webhook delivery failed")), "the failure is logged");
  t.notOk(h.logs.some((l) => l.includes(SECRET)), "without the secret");
  t.match((await h.app.inject("/metrics")).body, /chartroom_webhook_deliveries_total\{outcome="retry"\} 2/);
});

await eachProvider(t, "a receiver that never acknowledges: retried until WEBHOOK_GIVE_UP_MS, then failed; the next event goes on", async (t, provider) => {
  const h = await testApp(t, { provider, captureLogs: true, env: { ...FAST, WEBHOOK_GIVE_UP_MS: "600" } });
  let down = true;
  const rx = await webhookReceiver(t, () => (down ? 500 : 200));
  const hook = await addHook(t, h, { url: rx.url, events: ["freeze.changed"] });
  await h.admin("PUT", "/freeze", { reason: "first" });
  await until(t, "given up", async () => (await deliveries(h, hook.id)).items[0]?.state === "failed");
  const tries = rx.received.length;
  t.ok(tries >= 2, `retried before giving up (${tries} attempts)`);
  t.match((await deliveries(h, hook.id)).items[0], { state: "failed", attempts: tries, lastStatus: 500, lastError: "HTTP 500", nextAttemptAt: null, deliveredAt: null });
  await new Promise((r) => setTimeout(r, 300));
  t.equal(rx.received.length, tries, "a failed delivery is not sent again");
  t.ok(h.logs.some((l) => l.includes("webhook delivery given up")), "giving up is logged");
  t.match((await h.app.inject("/metrics")).body, /chartroom_webhook_deliveries_total\{outcome="failed"\} 1/);
  // The subject's next event is not blocked by the one given up.
  down = false;
  await h.admin("DELETE", "/freeze", { reason: "second" });
  await until(t, "the next event is delivered", () => rx.received.some((r) => r.status === 200));
  t.match(rx.received[rx.received.length - 1]!.json.data, { frozen: false, reason: "second" });
});

await eachProvider(t, "in order per channel: event N+1 waits until N is acknowledged", async (t, provider) => {
  const h = await testApp(t, { provider, env: FAST });
  // The first request (stable's promotion) fails; everything after is acknowledged.
  const rx = await webhookReceiver(t, (n) => (n === 1 ? 503 : 200));
  await addHook(t, h, { url: rx.url, events: ["channel.promoted", "channel.rolled-back"] });
  t.equal((await call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2" }, role: "release-engineer" })).statusCode, 200);
  t.equal((await call(h, "POST", "/channels/stable/rollback", { body: { reason: "bad" }, role: "release-engineer" })).statusCode, 200);
  await until(t, "both delivered", () => rx.received.filter((r) => r.status === 200).length >= 2);
  const seen = rx.received.map((r) => `${String(r.json.type)} ${r.status}`);
  t.same(seen, ["io.chartroom.channel.promoted 503", "io.chartroom.channel.promoted 200", "io.chartroom.channel.rolled-back 200"], "the rollback only after the promotion was acknowledged");
  t.equal(rx.received[0]!.json.id, rx.received[1]!.json.id);
});

await eachProvider(t, "events of every kind, written only when their change commits", async (t, provider) => {
  const h = await testApp(t, { provider, env: FAST });
  const rx = await webhookReceiver(t);
  const hook = await addHook(t, h, { url: rx.url, format: "slack", events: ["release.created", "release.yanked", "license.revoked", "rollout.step", "rollout.completed", "rollout.aborted", "channel.promoted"] });
  // Refused changes: nothing in the outbox.
  t.equal((await call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2", expectedCurrent: "0.60.0" }, role: "release-engineer" })).statusCode, 409);
  t.equal((await call(h, "POST", "/releases", { body: { version: "0.58.1", chart: { url: "https://c.example.com", name: "x", version: "1.0.0" } }, role: "release-engineer" })).statusCode, 409);
  t.equal((await deliveries(h, hook.id)).items.length, 0, "no delivery for a refused change");

  await createRelease(t, h, "0.61.0");
  t.equal((await call(h, "POST", "/releases/0.61.0/yank", { body: { reason: "broken" }, role: "release-engineer" })).statusCode, 200);
  t.equal((await call(h, "POST", "/licenses/jti-1/revoke", { body: { reason: "left" } })).statusCode, 200);
  t.equal((await call(h, "POST", "/channels/beta/promote", { body: { release: "0.60.0", rollout: { steps: [{ percent: 10 }, { percent: 50 }, { percent: 100 }] } }, role: "release-engineer" })).statusCode, 202);
  t.equal((await call(h, "POST", "/channels/beta/rollout/advance", { body: { reason: "looks good" }, role: "release-engineer" })).statusCode, 200);
  t.equal((await call(h, "POST", "/channels/beta/rollout/advance", { body: { reason: "done" }, role: "release-engineer" })).statusCode, 200);
  await until(t, "seven events", () => rx.received.length >= 7);
  const texts = rx.received.map((r) => r.json.text);
  t.ok(rx.received.every((r) => Object.keys(r.json).join() === "text" && verified(r)), "slack format: {text}, signed");
  for (const re of [/release 0\.61\.0 created/, /release 0\.61\.0 yanked .*broken/, /license jti-1 revoked .*left/, /rollout of 0\.60\.0 to channel beta moved to step 2 of 3 \(50 %\).*looks good/, /rollout of 0\.60\.0 to channel beta completed/, /channel beta promoted from 0\.59\.2 to 0\.60\.0/]) {
    t.ok(texts.some((x) => re.test(String(x))), `a message matches ${re}`);
  }
  const betaOrder = texts.filter((x) => /channel beta/.test(String(x)));
  t.match(betaOrder, [/step 2 of 3/, /step 3 of 3/, /completed/, /promoted/], "the channel's events in the order they were written");

  // An abort (a rollback during a rollout) is told too.
  t.equal((await call(h, "POST", "/channels/stable/promote", { body: { release: "0.60.0", rollout: { steps: [{ percent: 10 }, { percent: 100 }] } }, role: "release-engineer" })).statusCode, 202);
  t.equal((await call(h, "POST", "/channels/stable/rollback", { body: { reason: "stop" }, role: "release-engineer" })).statusCode, 200);
  await until(t, "the abort", () => rx.received.some((r) => /channel stable aborted at step 1 of 2/.test(String(r.json.text))));
});

await eachProvider(t, "a rolled-back transaction leaves no event: apply's dry run, then the apply", async (t, provider) => {
  const h = await testApp(t, { provider, env: FAST });
  const rx = await webhookReceiver(t);
  const hook = await addHook(t, h, { url: rx.url, events: ["release.created"] });
  const dir = join(h.dataDir, "declared");
  cpSync(CHANNELS_DIR, dir, { recursive: true });
  writeFileSync(join(dir, "releases", "0.62.0.yaml"), readFileSync(join(CHANNELS_DIR, "releases", "0.60.0.yaml"), "utf8").replace(/0\.60\.0/g, "0.62.0"));
  const plan = await h.ctx.declarative.apply(dir, { sub: "ci@example.com" }, { dryRun: true });
  t.match(plan.steps, [{ action: "create-release", target: "0.62.0" }], "the dry run plans the release");
  await h.ctx.dispatcher.tick();
  t.equal((await deliveries(h, hook.id)).items.length, 0, "its transaction was rolled back: no event, no delivery");
  await h.ctx.declarative.apply(dir, { sub: "ci@example.com" });
  await until(t, "the apply's event", () => rx.received.length >= 1);
  t.match(rx.received[0]!.json, { type: "io.chartroom.release.created", subject: "releases/0.62.0", data: { release: { version: "0.62.0" }, by: "ci@example.com" } });
  t.equal(rx.received.length, 1, "one event");
});

await eachProvider(t, "bad input: 400 naming the field; roles; unknown webhooks", async (t, provider) => {
  const h = await testApp(t, { provider, env: FAST });
  const base = { url: "https://hooks.example.com/x", secret: SECRET };
  const bad: [Record<string, unknown>, string][] = [
    [{ ...base, url: "ftp://hooks.example.com/x" }, "url"],
    [{ ...base, url: "https://user:pw@hooks.example.com/x" }, "url"],
    [{ ...base, url: "https://token@hooks.example.com/x" }, "url"],
    [{ ...base, url: "hooks.example.com" }, "url"],
    [{ ...base, url: `https://x.example.com/${"a".repeat(2100)}` }, "url"],
    [{ ...base, secret: "short" }, "secret"],
    [{ ...base, secret: "x".repeat(257) }, "secret"],
    [{ url: base.url }, "secret"],
    [{ secret: SECRET }, "url"],
    [{ ...base, events: ["release.created", "release.deleted"] }, "events.1"],
    [{ ...base, events: [] }, "events"],
    [{ ...base, format: "teams" }, "format"],
    [{ ...base, extra: 1 }, "extra"],
  ];
  for (const [body, field] of bad) {
    const res = await call(h, "POST", "/webhooks", { body });
    assertError(t, res, 400, "VALIDATION_FAILED", field, `${JSON.stringify(body).slice(0, 80)}`);
    t.notMatch(res.body, SECRET, "the secret is not echoed");
  }
  t.equal((await call(h, "POST", "/webhooks", { body: base, role: "release-engineer" })).statusCode, 403, "admin only");
  t.equal((await call(h, "GET", "/webhooks", { role: "viewer" })).statusCode, 403);
  // Private addresses are fine without OUTBOUND_DENY_PRIVATE (the receivers above are on 127.0.0.1).
  const local = await addHook(t, h, { url: "http://10.1.2.3/x" });
  assertError(t, await h.admin("DELETE", "/webhooks/no-such-id"), 404, "WEBHOOK_NOT_FOUND");
  assertError(t, await call(h, "GET", "/webhooks/no-such-id/deliveries"), 404, "WEBHOOK_NOT_FOUND");
  assertError(t, await call(h, "GET", `/webhooks/${local.id}/deliveries?cursor=bad`), 400, "VALIDATION_FAILED", "cursor");
  t.equal((await h.admin("DELETE", `/webhooks/${local.id}`)).statusCode, 204);
  t.same((await call(h, "GET", "/webhooks")).json(), { items: [] }, "removed");
});

await eachProvider(t, "OUTBOUND_DENY_PRIVATE: internal IP literals refused at creation, internal names at delivery", async (t, provider) => {
  const h = await testApp(t, { provider, env: { ...FAST, OUTBOUND_DENY_PRIVATE: "true", WEBHOOK_RETRY_BASE_MS: "60000" } });
  for (const url of ["http://127.0.0.1:8080/x", "http://10.0.0.1/x", "http://192.168.1.1/x", "http://172.16.0.1/", "http://169.254.169.254/latest", "http://[::1]/x", "http://[fd00::1]/x", "http://[::ffff:127.0.0.1]/x", "http://0.0.0.0/"]) {
    const res = await call(h, "POST", "/webhooks", { body: { url, secret: SECRET } });
    assertError(t, res, 400, "VALIDATION_FAILED", "url", url);
    t.match(res.json().reason, /OUTBOUND_DENY_PRIVATE/);
  }
  const rx = await webhookReceiver(t);
  // A name that resolves to loopback: accepted, refused when the dispatcher connects.
  const hook = await addHook(t, h, { url: rx.url.replace("127.0.0.1", "localhost"), events: ["freeze.changed"] });
  await h.admin("PUT", "/freeze", { reason: "r" });
  await until(t, "the attempt is refused", async () => (await deliveries(h, hook.id)).items[0]?.attempts === 1);
  const [d] = (await deliveries(h, hook.id)).items;
  t.match(d, { state: "pending", lastStatus: null, lastError: /localhost resolves to .*loopback, private or link-local/ });
  t.ok(d!.nextAttemptAt, "tried again later");
  t.equal(rx.received.length, 0, "nothing reached the receiver");
});
