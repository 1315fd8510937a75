// Admin roles (docs/api.md §3). Each role includes the ones below it:
// admin ⊇ release-engineer ⊇ viewer.
import { z } from "zod";

export const ROLES = ["viewer", "release-engineer", "admin"] as const;
export type Role = (typeof ROLES)[number];
export const roleSchema = z.enum(ROLES);

const rank: Record<Role, number> = { viewer: 1, "release-engineer": 2, admin: 3 };

/** Whether a token holding `held` may do what `needed` allows. */
export function hasRole(held: readonly string[], needed: Role): boolean {
  return held.some((r) => (rank as Record<string, number>)[r] !== undefined && rank[r as Role] >= rank[needed]);
}
