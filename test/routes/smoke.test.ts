import t from "tap";
import { eachProvider } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";

await eachProvider(t, "first boot serves the sample channels", async (t, provider) => {
  const h = await testApp(t, { provider });
  const ready = await h.app.inject("/readyz");
  t.equal(ready.statusCode, 200, "ready");
  const res = await h.poll(h.license({ channel: "stable" }));
  t.equal(res.statusCode, 200);
  t.equal(res.json().metadata.version, "0.58.1");
  const channels = await h.admin("GET", "/channels", undefined, "viewer");
  t.equal(channels.statusCode, 200);
  t.same(channels.json().items.map((c: { name: string }) => c.name), ["beta", "stable", "unstable"]);
});
