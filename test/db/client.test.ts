// src/db/client.ts: the query compiler is read from the Prisma runtime's
// CommonJS file, not imported as a module that would stay in the heap.
// If a Prisma upgrade changes that file, this test says so (the server
// would still run, on Prisma's own loader, with ~5 MB more heap).
import t from "tap";
import { compilerBytes, createDb } from "../../src/db/client.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

for (const provider of ["sqlite", "postgresql"] as const) {
  t.test(`the ${provider} query compiler is found and is WebAssembly`, async (t) => {
    const bytes = compilerBytes(provider);
    t.ok(bytes, "read from the runtime's CommonJS file");
    t.equal(bytes?.subarray(0, 4).toString("latin1"), "\0asm");
    t.ok(bytes && bytes.length > 1_000_000, "the whole module, not a fragment");
  });
}

t.test("a client built with it runs queries", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "chartroom-client-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const db = await createDb(`file:${join(dir, "c.db")}`);
  t.teardown(() => db.$disconnect());
  t.same(await db.$queryRawUnsafe("SELECT 1 + 1 AS two"), [{ two: 2 }]);
});
