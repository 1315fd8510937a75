// `chartroom freeze on|off|status`: the freeze (stop the line) over the
// admin API (docs/api.md §7).
import type { Client } from "./client.js";
import { dash, fields, when } from "./format.js";
import type { Result } from "./remote.js";
import type { FreezeDto } from "../routes/admin/dto/freeze.js";

function freezeText(f: FreezeDto): string {
  if (!f.frozen) return "promotions are not frozen\n";
  return (
    "promotions are FROZEN (stop the line): promotions and applies that move a channel are refused; rollbacks, yanks and revocations still work\n" +
    fields([
      ["reason", dash(f.reason)],
      ["by", dash(f.by)],
      ["since", when(f.since)],
      ["until", f.until ? when(f.until) : "lifted by chartroom freeze off"],
    ])
  );
}

export async function freezeOn(c: Client, o: { reason: string; until?: string | undefined }): Promise<Result> {
  const f = (await c.put("/freeze", { reason: o.reason, ...(o.until !== undefined ? { until: o.until } : {}) })) as FreezeDto;
  return { json: f, text: freezeText(f) };
}

export async function freezeOff(c: Client, reason: string): Promise<Result> {
  const f = (await c.del("/freeze", { reason })) as FreezeDto;
  return { json: f, text: "freeze lifted: promotions work again\n" };
}

export async function freezeStatus(c: Client): Promise<Result> {
  const f = (await c.get("/freeze")) as FreezeDto;
  return { json: f, text: freezeText(f) };
}
