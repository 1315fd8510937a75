// The freeze (stop the line) as the admin API answers it.
import { z } from "zod";
import type { FreezeState } from "../../../services/freeze-service.js";

export const freezeDto = z.object({
  frozen: z.boolean().describe("whether promotions are refused (423 FROZEN) now"),
  reason: z.string().nullable(),
  until: z.string().nullable().describe("when the freeze ends by itself (null: when lifted)"),
  since: z.string().nullable(),
  by: z.string().nullable().describe("who froze"),
});
export type FreezeDto = z.infer<typeof freezeDto>;

export function toFreezeDto(f: FreezeState): FreezeDto {
  return { frozen: f.frozen, reason: f.reason, until: f.until?.toISOString() ?? null, since: f.since?.toISOString() ?? null, by: f.by };
}
