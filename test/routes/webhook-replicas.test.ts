// Two replicas on one PostgreSQL database, both running the webhook
// dispatcher with fast ticks: every event reaches the receiver exactly
// once (docs/api.md §10, "from one replica", "never delivered twice once
// acknowledged"), whichever replica wrote it, and in order per channel.
import t from "tap";
import { pgUnavailableReason } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { webhookReceiver } from "../helpers/webhook-receiver.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) — the two-replica webhook test needs it ***`);
}

const FAST = { WEBHOOK_TICK_MS: "20", WEBHOOK_RETRY_BASE_MS: "50", WEBHOOK_RETRY_MAX_MS: "200" };

t.test("two replicas deliver each event exactly once, in order per channel", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const a = await testApp(t, { provider: "postgresql", env: FAST });
  const b = await testApp(t, { provider: "postgresql", databaseUrl: a.url, seed: false, env: FAST });
  // Every fifth request fails: retries race the other replica's ticks too.
  const rx = await webhookReceiver(t, (n) => (n % 5 === 0 ? 500 : 200));
  const created = await a.admin("POST", "/webhooks", { url: rx.url, secret: "replica-secret-0123456789" });
  t.equal(created.statusCode, 201);

  // Events written on both replicas: releases, and a channel moved back and forth (ordered).
  const writes: Promise<{ statusCode: number }>[] = [];
  for (let i = 0; i < 10; i++) {
    const h = i % 2 === 0 ? a : b;
    writes.push(h.admin("POST", "/releases", { version: `9.0.${i}`, chart: { url: "https://charts.example.com", name: "operator-wandb", version: "0.20.0" } }, "release-engineer"));
  }
  t.ok((await Promise.all(writes)).every((r) => r.statusCode === 201), "ten releases created");
  const moves: string[] = [];
  for (let i = 0; i < 6; i++) {
    const h = i % 2 === 0 ? a : b;
    const res = i % 2 === 0 ? await h.admin("POST", "/channels/stable/promote", { release: "0.59.2" }, "release-engineer") : await h.admin("POST", "/channels/stable/rollback", { reason: `r${i}` }, "release-engineer");
    t.equal(res.statusCode, 200, `move ${i + 1}`);
    moves.push(i % 2 === 0 ? "io.chartroom.channel.promoted" : "io.chartroom.channel.rolled-back");
  }
  const expected = 16;
  const acked = () => new Set(rx.received.filter((r) => r.status === 200).map((r) => String(r.json.id)));
  const done = await eventually(() => acked().size >= expected || undefined, { within: 30_000, every: 25 });
  t.ok(done.ok, `every event acknowledged: ${done.summary}`);
  // Many ticks of both replicas more: nothing is sent again.
  await new Promise((r) => setTimeout(r, 600));
  const okIds = rx.received.filter((r) => r.status === 200).map((r) => String(r.json.id));
  t.equal(okIds.length, expected, `${expected} acknowledged requests, no duplicate`);
  t.equal(new Set(okIds).size, expected, "each event id acknowledged exactly once");
  for (const r of rx.received.filter((x) => x.status !== 200)) t.ok(okIds.includes(String(r.json.id)), "a failed attempt was retried until acknowledged");
  const channel = rx.received.filter((r) => r.status === 200 && r.json.subject === "channels/stable").map((r) => String(r.json.type));
  t.same(channel, moves, "the channel's events in the order they were written");
  const counts = await Promise.all([a, b].map(async (h) => Number(/chartroom_webhook_deliveries_total\{outcome="delivered"\} (\d+)/.exec((await h.app.inject("/metrics")).body)?.[1] ?? 0)));
  t.equal(counts[0]! + counts[1]!, expected, `the replicas' delivered counts add up (${counts.join(" + ")})`);
});
