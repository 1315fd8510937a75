import t from "tap";
import pino from "pino";
import { prepareDatabase } from "../../src/boot.js";
import { loadConfig } from "../../src/config.js";
import { createContext } from "../../src/context.js";
import { eachProvider, freshDatabase, tempDir } from "../helpers/db.js";
import { ADMIN_SECRET, CHANNELS_DIR } from "../helpers/app.js";

await eachProvider(t, "two replicas starting at once on an empty database: both ready, channels loaded once", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  const log = pino({ level: "silent" });
  const contexts = await Promise.all(
    [0, 1].map(async () => {
      const config = loadConfig({ DATABASE_URL: url, DATA_DIR: tempDir(t), CHANNELS_DIR, ADMIN_JWT_SECRET: ADMIN_SECRET, LOG_LEVEL: "silent" });
      const ctx = await createContext(config, log);
      t.teardown(() => ctx.stop());
      return ctx;
    }),
  );
  await Promise.all(contexts.map((ctx) => prepareDatabase(ctx, log)));
  const store = contexts[0]!.store;
  const channels = await store.channels.list();
  t.same(channels.map((c) => c.name), ["beta", "stable", "unstable"]);
  t.equal((await store.releases.all()).length, 3);
  let events = 0;
  for (const c of channels) events += (await store.events.allOf(c.id)).length;
  t.equal(events, 3, "each channel moved once");
  // A third start finds everything in place and changes nothing.
  await prepareDatabase(contexts[1]!, log);
  t.equal((await store.audit.list({ limit: 100 })).items.length, 9, "no second load");
});
