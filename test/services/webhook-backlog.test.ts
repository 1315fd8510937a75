// A dead receiver's backlog does not starve the others
// (src/repositories/webhooks-repo.ts pendingQueue,
// src/services/webhook-dispatcher.ts), on both databases: 5000 pending
// deliveries of one webhook on one subject, its head backing off for an
// hour, come before a healthy webhook's delivery in event order. The
// healthy one must be sent on the next tick (the queue used to be the
// oldest 5000 pending deliveries, filtered in memory: this one was beyond it).
import t from "tap";
import { eachProvider } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";
import { webhookReceiver } from "../helpers/webhook-receiver.js";
import { webhookDispatcher } from "../../src/services/webhook-dispatcher.js";

const SECRET = "s3cret-of-the-receiver-0123456789";
const BACKLOG = 5000;

await eachProvider(t, "5000 pending deliveries of a dead webhook backing off: a healthy webhook's event is still sent", async (t, provider) => {
  // The app's own dispatcher stays out of the way (its first tick is a minute away).
  const h = await testApp(t, { provider, env: { WEBHOOK_TICK_MS: "60000" } });
  const dead = await webhookReceiver(t, () => 500);
  const healthy = await webhookReceiver(t);
  const store = h.ctx.store;
  const addHook = async (url: string) => {
    const res = await h.admin("POST", "/webhooks", { url, secret: SECRET, events: ["freeze.changed"] });
    t.equal(res.statusCode, 201);
    return (res.json() as { id: string }).id;
  };
  const deadHook = await addHook(dead.url);
  for (let i = 0; i < BACKLOG; i += 500) {
    await store.transaction(async (repos) => {
      for (let j = i; j < i + 500; j++) await repos.outbox.add("freeze.changed", "freeze", { n: j });
    });
  }
  // Its head failed and backs off for an hour; the rest wait behind it.
  const now = new Date();
  const [head] = await store.webhooks.pendingQueue(now, 10);
  t.ok(head, "the dead webhook's head is due");
  const [claimed] = await store.webhooks.claim([head!.id], now, new Date(now.getTime() + 60_000));
  t.ok(await store.webhooks.markFailed(claimed!.id, claimed!.claim, { status: 500, error: "HTTP 500", next: new Date(now.getTime() + 3_600_000) }));
  t.equal(await store.webhooks.pendingCount(), BACKLOG);

  const healthyHook = await addHook(healthy.url);
  await store.transaction((repos) => repos.outbox.add("freeze.changed", "freeze", { n: "last" }));
  const d = webhookDispatcher({ store, retry: { baseMs: 10, maxMs: 10, giveUpMs: 86_400_000 }, source: "/chartroom", denyPrivate: false });
  const started = Date.now();
  await d.tick();
  t.comment(`the tick took ${Date.now() - started} ms`);
  t.equal(healthy.received.length, 1, "the healthy webhook got its event on the first tick");
  t.equal(dead.received.length, 0, "the dead one is left to its back-off");
  const [log] = (await store.webhooks.deliveries(healthyHook, { limit: 5 })).items;
  t.match(log, { state: "delivered", lastStatus: 200 });
  t.equal((await store.webhooks.deliveries(deadHook, { limit: 1 })).items[0]?.state, "pending");
});
