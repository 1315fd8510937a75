import t from "tap";
import { readinessService } from "../../src/services/readiness.js";
import { DatabaseUnavailableError } from "../../src/errors.js";

t.test("not ready before the first load, while the database is down, and while migrations are pending", async (t) => {
  const health = { loaded: false };
  let applied = ["001_init"];
  let down = false;
  let asked = 0;
  const readiness = readinessService({
    health,
    expectedMigrations: () => ["001_init", "002_more"],
    store: {
      ping: async () => {
        if (down) throw new DatabaseUnavailableError();
      },
      appliedMigrations: async () => {
        asked++;
        return applied;
      },
      writeRefused: () => undefined,
      probeWrite: async () => {},
    },
  });
  t.match(await readiness.check(), { ready: false, reason: /^starting/ });
  health.loaded = true;
  t.same(await readiness.check(), { ready: false, reason: "migrations pending: 002_more" });
  applied = ["001_init", "002_more"];
  t.same(await readiness.check(), { ready: true });
  t.same(await readiness.check(), { ready: true });
  t.equal(asked, 2, "migrations are not asked for again once all were applied");
  down = true;
  const r = await readiness.check();
  t.match(r, { ready: false, reason: "database unreachable" });
  t.ok(!r.ready && r.error instanceof DatabaseUnavailableError, "with the error, for the log");
});

t.test("not ready while the database refuses writes; a probe write that succeeds makes it ready again", async (t) => {
  let refused: unknown;
  let diskFull = true;
  let probes = 0;
  const readiness = readinessService({
    health: { loaded: true },
    expectedMigrations: () => [],
    store: {
      ping: async () => {},
      appliedMigrations: async () => [],
      writeRefused: () => refused,
      probeWrite: async () => {
        probes++;
        if (diskFull) throw new DatabaseUnavailableError();
        refused = undefined;
      },
    },
  });
  t.same(await readiness.check(), { ready: true });
  t.equal(probes, 0, "no probe write while writes work");
  refused = new Error("database or disk is full");
  t.match(await readiness.check(), { ready: false, reason: "database refuses writes (disk full or read-only)" });
  diskFull = false;
  t.same(await readiness.check(), { ready: true }, "the probe write succeeded");
  t.same(await readiness.check(), { ready: true });
  t.equal(probes, 2, "probes only while writes were refused");
});
