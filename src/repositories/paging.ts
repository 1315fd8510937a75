// Cursor paging, newest first, for every list. A cursor is the opaque
// base64url of the last row's sort key; it survives inserts between pages.
import { fieldError } from "../errors.js";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface PageRequest {
  cursor?: string | undefined;
  limit: number;
}

export function encodeCursor(key: string | number): string {
  return Buffer.from(String(key), "utf8").toString("base64url");
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined) return undefined;
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  if (!text || encodeCursor(text) !== cursor) throw fieldError("cursor", "is not a cursor this server issued");
  return text;
}

export function decodeIntCursor(cursor: string | undefined): number | undefined {
  const text = decodeCursor(cursor);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw fieldError("cursor", "is not a cursor this server issued");
  return n;
}

/** Given limit+1 rows, returns the page and the cursor of its last row. */
export function toPage<T>(rows: T[], limit: number, keyOf: (row: T) => string | number): Page<T> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}
