// Paging in the admin API: the page shape every list answers with, and the
// query that asks for one (limit, and the cursor of the page before).
import { z } from "zod";

export function page<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable().describe("pass as ?cursor= for the next page; null on the last") });
}

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/**
 * A cursor this server could have issued (base64url of a sort key that
 * `check` accepts). Checked here so a forged cursor is a 400, never a
 * database error (a date the column cannot hold, an id beyond INT4).
 */
function cursorOf(check: (key: string) => boolean) {
  return z
    .string()
    .max(200)
    .refine(
      (c) => {
        const key = Buffer.from(c, "base64url").toString("utf8");
        return key !== "" && Buffer.from(key, "utf8").toString("base64url") === c && check(key);
      },
      { message: "is not a cursor this server issued" },
    );
}

/** Paging over an autoincrement id (history, audit): the id fits a 32-bit INT. */
export const idPageQuery = pageQuery.extend({
  cursor: cursorOf((k) => /^\d{1,10}$/.test(k) && Number(k) <= 2_147_483_647).optional(),
});

/** Paging over releases: the cursor is "<createdAt ISO>|<id>". */
export const releasePageQuery = pageQuery.extend({
  cursor: cursorOf((k) => {
    const [at = "", id, ...rest] = k.split("|");
    const d = new Date(at);
    return rest.length === 0 && !!id && id.length <= 128 && !Number.isNaN(d.getTime()) && d.toISOString() === at && d.getUTCFullYear() >= 1970 && d.getUTCFullYear() <= 9999;
  }).optional(),
});
