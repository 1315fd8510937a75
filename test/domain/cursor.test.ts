import t from "tap";
import { decodeCursor, encodeCursor, type CursorKind } from "../../src/domain/cursor.js";

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64url");

t.test("a cursor is accepted only as this server issues it, for its kind of list", async (t) => {
  const table: [string, string, CursorKind, string | undefined][] = [
    ["an id", encodeCursor(42), "id", "42"],
    ["the largest INT4", encodeCursor(2_147_483_647), "id", "2147483647"],
    ["an id beyond INT4", encodeCursor(2_147_483_648), "id", undefined],
    ["a negative id", encodeCursor(-1), "id", undefined],
    ["not base64url as issued (padding)", `${encodeCursor(42)}=`, "id", undefined],
    ["empty", "", "id", undefined],
    ["a release key", encodeCursor("2026-01-02T03:04:05.000Z|abc"), "release", "2026-01-02T03:04:05.000Z|abc"],
    ["a release key for an id list", encodeCursor("2026-01-02T03:04:05.000Z|abc"), "id", undefined],
    ["an id for the release list", encodeCursor(42), "release", undefined],
    ["a date not in ISO form", b64("2026-01-02|abc"), "release", undefined],
    ["a year the column cannot hold", b64("+010000-01-01T00:00:00.000Z|abc"), "release", undefined],
    ["no id", b64("2026-01-02T03:04:05.000Z|"), "release", undefined],
    ["an extra part", b64("2026-01-02T03:04:05.000Z|a|b"), "release", undefined],
  ];
  for (const [name, cursor, kind, key] of table) t.equal(decodeCursor(cursor, kind), key, name);
});
