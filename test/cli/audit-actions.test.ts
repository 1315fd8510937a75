// The CLI's list of audit actions (src/cli/audit.ts, "an action it never
// records lists the ones it does") is written out by hand: this test reads
// every `action: "…"` and `targetType: "…"` the services write
// (repos.audit.add, src/services) and fails when the list misses one.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { AUDIT_ACTIONS, AUDIT_TARGET_TYPES } from "../../src/cli/audit.js";

const root = join(import.meta.dirname, "..", "..", "src");
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
}

const written = { actions: new Set<string>(), types: new Set<string>() };
for (const file of sources(root)) {
  const text = readFileSync(file, "utf8");
  for (const call of text.matchAll(/audit\.add\(\{[^}]*?action: "([a-z.-]+)"[^}]*?targetType: "([a-z]+)"/gs)) {
    written.actions.add(call[1]!);
    written.types.add(call[2]!);
  }
}

t.test("every audit action and target type the server writes is known to the CLI", async (t) => {
  t.ok(written.actions.size >= 10, `found the audit writes (${written.actions.size} actions)`);
  for (const a of written.actions) t.ok((AUDIT_ACTIONS as readonly string[]).includes(a), `action ${a}`);
  for (const ty of written.types) t.ok((AUDIT_TARGET_TYPES as readonly string[]).includes(ty), `target type ${ty}`);
});
