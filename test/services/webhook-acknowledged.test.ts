// Acknowledged once, recorded once (src/services/webhook-dispatcher.ts,
// src/repositories/webhooks-repo.ts), on both databases: a 2xx whose
// recording hits a short database error is recorded on a retry (not sent
// again after the lease); one that cannot be recorded at all is told
// loudly; and a sender whose lease expired and was claimed again changes
// nothing with its answer (the claim's token).
import t, { type Test } from "tap";
import { eachProvider } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { webhookReceiver } from "../helpers/webhook-receiver.js";
import { webhookDispatcher, type UnrecordedAck } from "../../src/services/webhook-dispatcher.js";
import type { Store } from "../../src/repositories/store.js";

const SECRET = "s3cret-of-the-receiver-0123456789";
/** The app's own dispatcher stays out of the way (its first tick is a minute away). */
const QUIET = { WEBHOOK_TICK_MS: "60000" };

async function oneDelivery(t: Test, h: TestApp, url: string, reason: string): Promise<{ hook: string; delivery: number }> {
  const res = await h.admin("POST", "/webhooks", { url, secret: SECRET, events: ["freeze.changed"] });
  t.equal(res.statusCode, 201);
  const hook = (res.json() as { id: string }).id;
  t.equal((await h.admin("PUT", "/freeze", { reason })).statusCode, 200);
  const [d] = (await h.ctx.store.webhooks.deliveries(hook, { limit: 10 })).items;
  return { hook, delivery: d!.id };
}

async function stateOf(h: TestApp, hook: string) {
  const [d] = (await h.ctx.store.webhooks.deliveries(hook, { limit: 10 })).items;
  return { state: d!.state, attempts: d!.attempts, lastStatus: d!.lastStatus };
}

await eachProvider(t, "a 2xx whose recording fails twice is recorded on the third try, and sent once", async (t, provider) => {
  const h = await testApp(t, { provider, env: QUIET });
  const rx = await webhookReceiver(t);
  const { hook } = await oneDelivery(t, h, rx.url, "incident 1");
  let calls = 0;
  const store = h.ctx.store;
  const flaky = {
    ...store,
    webhooks: {
      ...store.webhooks,
      markDelivered: async (...args: Parameters<Store["webhooks"]["markDelivered"]>) => {
        calls++;
        if (calls <= 2) throw new Error("Connection terminated unexpectedly");
        return store.webhooks.markDelivered(...args);
      },
    },
  } as Store;
  const outcomes: string[] = [];
  const unrecorded: UnrecordedAck[] = [];
  const d = webhookDispatcher({ store: flaky, retry: { baseMs: 10, maxMs: 10, giveUpMs: 86_400_000 }, source: "/chartroom", denyPrivate: false, markBackoffMs: 1, onOutcome: (o) => outcomes.push(o), onUnrecorded: (u) => unrecorded.push(u) });
  await d.tick();
  t.equal(rx.received.length, 1, "sent once");
  t.equal(calls, 3, "recorded on the third try");
  t.same(await stateOf(h, hook), { state: "delivered", attempts: 1, lastStatus: 200 });
  t.same(outcomes, ["delivered"]);
  t.same(unrecorded, []);
  await d.tick();
  t.equal(rx.received.length, 1, "and never sent again");

  // A database that stays down: told loudly, once, with the status; the delivery stays pending (sent again after its lease).
  t.equal((await h.admin("DELETE", `/webhooks/${hook}`)).statusCode, 204);
  const { hook: hook2 } = await oneDelivery(t, h, `${rx.url}/second`, "incident 2");
  const down = { ...store, webhooks: { ...store.webhooks, markDelivered: async () => Promise.reject(new Error("database down")) } } as Store;
  const d2 = webhookDispatcher({ store: down, retry: { baseMs: 10, maxMs: 10, giveUpMs: 86_400_000 }, source: "/chartroom", denyPrivate: false, markBackoffMs: 1, onUnrecorded: (u) => unrecorded.push(u) });
  await d2.tick();
  t.equal(rx.received.length, 2, "the second event sent");
  t.equal(unrecorded.length, 1, "told once");
  t.match(unrecorded[0], { webhook: hook2, status: 200, error: "database down", type: "freeze.changed" });
  t.equal((await stateOf(h, hook2)).state, "pending");
});

await eachProvider(t, "a stale sender's answer changes nothing once its lease was claimed again", async (t, provider) => {
  const h = await testApp(t, { provider, env: QUIET });
  const { hook, delivery } = await oneDelivery(t, h, "http://127.0.0.1:9/never-sent", "incident 3");
  const repo = h.ctx.store.webhooks;
  const t0 = Date.now();
  const [stale] = await repo.claim([delivery], new Date(t0), new Date(t0 + 1000));
  t.ok(stale, "claimed");
  // Its lease ends; another dispatcher claims it.
  const [fresh] = await repo.claim([delivery], new Date(t0 + 2000), new Date(t0 + 62_000));
  t.ok(fresh, "claimed again after the lease");
  t.not(fresh!.claim, stale!.claim, "with a token of its own");
  t.equal(await repo.markDelivered(delivery, stale!.claim, 200, new Date()), false, "the stale sender's 2xx is not recorded");
  t.equal(await repo.markFailed(delivery, stale!.claim, { status: 500, error: "HTTP 500", next: null }), false, "nor its failure");
  t.same(await stateOf(h, hook), { state: "pending", attempts: 0, lastStatus: null }, "nothing changed");
  t.equal(await repo.markFailed(delivery, fresh!.claim, { status: 503, error: "HTTP 503", next: new Date(t0 + 5000) }), true, "the holder's answer is");
  t.same(await stateOf(h, hook), { state: "pending", attempts: 1, lastStatus: 503 });
  t.equal(await repo.markDelivered(delivery, fresh!.claim, 200, new Date()), false, "and only once: the claim ends with its answer");
});
