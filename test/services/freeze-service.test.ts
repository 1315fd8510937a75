// The freeze's pure rules (src/services/freeze-service.ts), table-tested:
// when a stored freeze is in force, and what its 423 says.
import t from "tap";
import { freezeAt, frozenError } from "../../src/services/freeze-service.js";
import type { FreezeRow } from "../../src/repositories/freeze-repo.js";

const NOW = new Date("2027-01-31T12:00:00.000Z");
const at = (iso: string) => new Date(iso);
const row = (r: Partial<FreezeRow>): FreezeRow => ({ frozen: true, reason: "incident", until: null, frozenBy: "oncall", frozenAt: at("2027-01-31T11:00:00.000Z"), ...r });

t.test("freezeAt: in force unless lifted or past its until", async (t) => {
  const cases: [string, FreezeRow, boolean][] = [
    ["never frozen", row({ frozen: false, reason: null, frozenBy: null, frozenAt: null }), false],
    ["frozen, no until", row({}), true],
    ["until ahead", row({ until: at("2027-01-31T12:00:00.001Z") }), true],
    ["until exactly now: ended", row({ until: NOW }), false],
    ["until past", row({ until: at("2027-01-31T11:59:59.999Z") }), false],
    ["lifted row with a stale until", row({ frozen: false, until: at("2027-02-01T00:00:00Z") }), false],
  ];
  for (const [name, r, frozen] of cases) {
    const f = freezeAt(r, NOW);
    t.equal(f.frozen, frozen, name);
    if (frozen) t.same(f, { frozen: true, reason: r.reason, until: r.until, since: r.frozenAt, by: r.frozenBy }, `${name}: shown as stored`);
    else t.same(f, { frozen: false, reason: null, until: null, since: null, by: null }, `${name}: shown as lifted`);
  }
});

t.test("frozenError: 423 FROZEN naming what was refused, the reason, who, since and how it ends", async (t) => {
  const open = frozenError(freezeAt(row({}), NOW), "promoting 0.61.0 to channel stable");
  t.equal(open.code, "FROZEN");
  t.equal(open.statusCode, 423);
  t.equal(open.message, "promoting 0.61.0 to channel stable refused: promotions are frozen (stop the line) by oncall since 2027-01-31T11:00:00.000Z: incident; until an admin lifts it (DELETE /api/v1/admin/freeze, chartroom freeze off)");
  const timed = frozenError(freezeAt(row({ until: at("2027-01-31T18:00:00Z") }), NOW), "x");
  t.match(timed.message, /; it ends by itself at 2027-01-31T18:00:00\.000Z or when lifted$/);
});
