// What start-up does before serving: apply pending migrations (under a
// lock), and on the first boot of an empty database load CHANNELS_DIR.
import { existsSync } from "node:fs";
import type { FastifyBaseLogger } from "fastify";
import { FIRST_BOOT_LOCK_KEY, migrate, withAdvisoryLock } from "./db/migrate.js";
import type { Context } from "./context.js";

export const SYSTEM_ACTOR = { sub: "system:first-boot" };

export async function prepareDatabase(ctx: Context, log: FastifyBaseLogger): Promise<void> {
  const result = await migrate(ctx.config.DATABASE_URL);
  if (result.applied.length > 0) log.info({ applied: result.applied }, "migrations applied");
  else log.debug({ alreadyApplied: result.alreadyApplied }, "no pending migrations");

  // Under a lock, so that of two replicas starting on an empty database
  // one loads the channels and the other finds them loaded.
  await withAdvisoryLock(ctx.config.DATABASE_URL, FIRST_BOOT_LOCK_KEY, async () => {
    const [channels, releases] = await Promise.all([ctx.store.channels.list(), ctx.store.releases.list({ limit: 1 })]);
    if (channels.length > 0 || releases.items.length > 0) return;
    const dir = ctx.config.CHANNELS_DIR;
    if (!existsSync(dir)) {
      log.info({ dir }, "empty database and no channels directory; starting with no channels");
      return;
    }
    // An empty database serves nobody: a freeze (set before any channel existed) has no line to stop here.
    const applied = await ctx.declarative.apply(dir, SYSTEM_ACTOR, { ignoreFreeze: true });
    log.info({ dir, steps: applied.steps.length }, "first boot: declarative channels loaded");
  });
}
