// Paging in the admin API: the page shape every list answers with, and the
// query that asks for one (limit, and the cursor of the page before).
import { z } from "zod";
import { line } from "../../../domain/schemas.js";
import { CURSOR_REFUSED, decodeCursor, type CursorKind } from "../../../domain/cursor.js";

export function page<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable().describe("pass as ?cursor= for the next page; null on the last") });
}

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: line(200, 0).optional(),
});

/** A cursor this server could have issued for this kind of list (src/domain/cursor.ts). */
function cursorOf(kind: CursorKind) {
  return line(200, 0).refine((c) => decodeCursor(c, kind) !== undefined, { message: CURSOR_REFUSED });
}

/** Paging over an autoincrement id (history, audit). */
export const idPageQuery = pageQuery.extend({ cursor: cursorOf("id").optional() });

/** Paging over releases (newest first by creation time, then id). */
export const releasePageQuery = pageQuery.extend({ cursor: cursorOf("release").optional() });
