// Cursor paging, newest first, for every list (the cursor codec is
// src/domain/cursor.ts, shared with the admin API's query validation).
import { CURSOR_REFUSED, decodeCursor, encodeCursor, type CursorKind } from "../domain/cursor.js";
import { fieldError } from "../errors.js";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  cursor?: string | undefined;
  limit: number;
}

/** The sort key of the page's cursor (none for the first page). */
export function cursorKey(cursor: string | undefined, kind: CursorKind): string | undefined {
  if (cursor === undefined) return undefined;
  const key = decodeCursor(cursor, kind);
  if (key === undefined) throw fieldError("cursor", CURSOR_REFUSED);
  return key;
}

/** The id of the page's cursor, for lists ordered by an autoincrement id. */
export function cursorId(cursor: string | undefined): number | undefined {
  const key = cursorKey(cursor, "id");
  return key === undefined ? undefined : Number(key);
}

/** Given limit+1 rows, returns the page and the cursor of its last row. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => string | number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
