// The one cursor codec. A cursor is the opaque base64url of the last row's
// sort key; it survives inserts between pages. The admin API checks a
// cursor with it (a forged one is a 400 at validation, never a database
// error: a date the column cannot hold, an id beyond INT4) and the
// repositories decode it with it into their where clauses.
import { LICENSE_SUBJECT_MAX } from "./schemas.js";
import { textProblem } from "./text.js";

/** The sort keys cursors carry, and what each accepts. */
const SORT_KEYS = {
  /** An autoincrement id (history, audit): fits a 32-bit INT. */
  id: (k: string) => /^\d{1,10}$/.test(k) && Number(k) <= 2_147_483_647,
  /** Releases: "<createdAt ISO>|<id>". */
  release: (k: string) => timeAndId(k),
  /** Rollouts: "<startedAt ISO>|<id>". */
  rollout: (k: string) => timeAndId(k),
  /** The fleet paged by licensee: the last sub (at most LICENSE_SUBJECT_MAX characters, one line). */
  sub: (k: string) => k.length <= LICENSE_SUBJECT_MAX && textProblem(k, "line") === undefined,
};

/** A sort key "<ISO time>|<id>" (a time both databases store, an id of at most 128 characters). */
function timeAndId(k: string): boolean {
  const [at = "", id, ...rest] = k.split("|");
  const d = new Date(at);
  return rest.length === 0 && !!id && id.length <= 128 && !Number.isNaN(d.getTime()) && d.toISOString() === at && d.getUTCFullYear() >= 1970 && d.getUTCFullYear() <= 9999;
}
export type CursorKind = keyof typeof SORT_KEYS;

export const CURSOR_REFUSED = "is not a cursor this server issued";

export function encodeCursor(key: string | number): string {
  return Buffer.from(String(key), "utf8").toString("base64url");
}

/** The sort key of a cursor this server could have issued for `kind`, else undefined. */
export function decodeCursor(cursor: string, kind: CursorKind): string | undefined {
  const key = Buffer.from(cursor, "base64url").toString("utf8");
  return key !== "" && encodeCursor(key) === cursor && SORT_KEYS[kind](key) ? key : undefined;
}
