// The audit log of webhooks (docs/api.md §10): GET /audit is open to
// viewers, and a webhook URL's path can be a secret (Slack's incoming
// webhooks), so webhook.create and webhook.delete keep the origin and a
// short hash of the rest, never the path (src/domain/audited-url.ts).
import { createHash } from "node:crypto";
import t from "tap";
import { testApp } from "../../helpers/app.js";
import { call } from "./fixtures/admin-helpers.js";

const PATH = "/services/T0AAAAAAA/B0BBBBBBB/XXXXsecretPathXXXXXXXXXX";
const URL_ = `https://hooks.slack.example${PATH}?token=q1w2e3`;

t.test("a viewer's GET /audit holds the webhook's origin, never its path or query", async (t) => {
  const h = await testApp(t, { provider: "sqlite", seed: false });
  const created = await call(h, "POST", "/webhooks", { body: { url: URL_, secret: "s3cret-of-the-receiver-0123456789", format: "slack" } });
  t.equal(created.statusCode, 201);
  const id = (created.json() as { id: string }).id;
  t.equal((await h.admin("DELETE", `/webhooks/${id}`)).statusCode, 204);

  const audit = await call(h, "GET", "/audit", { role: "viewer" });
  t.equal(audit.statusCode, 200);
  t.notMatch(audit.body, "secretPath", "no path in the audit log");
  t.notMatch(audit.body, "T0AAAAAAA", "no part of it");
  t.notMatch(audit.body, "q1w2e3", "no query");
  const items = (audit.json() as { items: { action: string; before: unknown; after: unknown }[] }).items;
  const hash = createHash("sha256").update(`${PATH}?token=q1w2e3`).digest("hex").slice(0, 12);
  const url = { origin: "https://hooks.slack.example", pathSha256: hash };
  t.match(items.find((i) => i.action === "webhook.create"), { after: { url, events: [], format: "slack" } }, "create: origin and hash");
  t.match(items.find((i) => i.action === "webhook.delete"), { before: { url, format: "slack" } }, "delete: the same");
});
