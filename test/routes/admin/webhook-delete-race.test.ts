// A webhook deleted while a change fans out its event, on PostgreSQL
// (src/repositories/outbox-repo.ts): the DELETE /webhooks/:id transaction is
// held open here, on the test's own connection, while a change (a freeze)
// writes its event; the change then waits for it, and once the delete
// commits the change must still succeed, with a delivery for every webhook
// that is left and none for the deleted one (not a foreign-key error, 500).
import pg from "pg";
import t from "tap";
import { freshDatabase, pgUnavailableReason } from "../../helpers/db.js";
import { testApp } from "../../helpers/app.js";
import { eventually } from "../../helpers/eventually.js";

const noPg = await pgUnavailableReason();
if (noPg) {
  if (process.env.CI) t.fail(`PostgreSQL is required in CI: ${noPg}`);
  else t.comment(`*** skipped: no PostgreSQL (${noPg}) ***`);
}

const SECRET = "s3cret-of-the-receiver-0123456789";

t.test("a delete committed while a change writes its deliveries: the change succeeds, the deleted webhook drops out", { skip: noPg ? "no PostgreSQL" : false }, async (t) => {
  const url = await freshDatabase(t, "postgresql");
  // No dispatcher ticks in the way: the deliveries stay pending for the test to read.
  const h = await testApp(t, { databaseUrl: url, env: { WEBHOOK_TICK_MS: "60000" } });
  const ids: string[] = [];
  for (const path of ["/doomed", "/kept"]) {
    const res = await h.admin("POST", "/webhooks", { url: `https://hooks.example.com${path}`, secret: SECRET, events: ["freeze.changed"] });
    t.equal(res.statusCode, 201);
    ids.push((res.json() as { id: string }).id);
  }
  const [doomed, kept] = ids as [string, string];

  const side = new pg.Client({ connectionString: url });
  await side.connect();
  t.teardown(() => side.end());
  const waiting = async () => (await side.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`)).rows[0].n as number;
  // What DELETE /webhooks/:id does (src/repositories/webhooks-repo.ts remove), not committed yet.
  await side.query("BEGIN");
  await side.query(`DELETE FROM "WebhookDelivery" WHERE "webhookId" = $1`, [doomed]);
  await side.query(`DELETE FROM "Webhook" WHERE "id" = $1`, [doomed]);

  const freeze = h.admin("PUT", "/freeze", { reason: "incident 9" });
  const blocked = await eventually(async () => ((await waiting()) > 0 ? true : undefined), { within: 10_000, every: 10 });
  t.ok(blocked.ok, `the change waits for the delete: ${blocked.summary}`);
  await side.query("COMMIT");
  const res = await freeze;
  t.equal(res.statusCode, 200, `the change succeeds: ${res.body.slice(0, 300)}`);
  t.match(res.json(), { frozen: true, reason: "incident 9" });

  const keptLog = await h.admin("GET", `/webhooks/${kept}/deliveries`);
  t.match(keptLog.json(), { items: [{ type: "freeze.changed", state: "pending" }] }, "the webhook left gets its delivery");
  t.equal((keptLog.json() as { items: unknown[] }).items.length, 1);
  t.equal((await h.admin("GET", `/webhooks/${doomed}/deliveries`)).statusCode, 404, "the deleted one is gone");
  const rows = await side.query(`SELECT count(*)::int AS n FROM "WebhookDelivery" WHERE "webhookId" = $1`, [doomed]);
  t.equal(rows.rows[0].n, 0, "and has no delivery");
});
