import t from "tap";
import { tokenFromAuthorization } from "../../src/licensing/verify-license.js";

// The shape of a license JWT; tokenFromAuthorization does not verify it.
const TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJl";
const basic = (userPass: string) => `Basic ${Buffer.from(userPass, "utf8").toString("base64")}`;

function codeOf(fn: () => unknown): { statusCode?: number; code?: string; message?: string } | undefined {
  try {
    fn();
  } catch (err) {
    return err as { statusCode?: number; code?: string; message?: string };
  }
  return undefined;
}

t.test("Basic license:<JWT>, as the operator sends it", async (t) => {
  t.equal(tokenFromAuthorization(basic(`license:${TOKEN}`)), TOKEN);
  t.equal(tokenFromAuthorization(`basic ${Buffer.from(`license:${TOKEN}`).toString("base64")}`), TOKEN, "scheme is case-insensitive");
  t.equal(tokenFromAuthorization(`  ${basic(`license:${TOKEN}`)}  `), TOKEN, "surrounding whitespace is ignored");
  // Unpadded base64 is accepted too.
  const unpadded = Buffer.from(`license:${TOKEN}x`).toString("base64").replace(/=+$/, "");
  t.equal(tokenFromAuthorization(`Basic ${unpadded}`), `${TOKEN}x`);
});

t.test("whitespace around the JWT is ignored (a license read untrimmed from a Secret made with --from-file)", async (t) => {
  for (const [name, around] of [
    ["a trailing newline", `${TOKEN}\n`],
    ["a trailing CRLF", `${TOKEN}\r\n`],
    ["trailing spaces and tabs", `${TOKEN} \t `],
    ["leading whitespace after the colon", ` \t${TOKEN}`],
    ["both", `\n ${TOKEN} \n`],
  ] as const) {
    t.equal(tokenFromAuthorization(basic(`license:${around}`)), TOKEN, `Basic: ${name}`);
  }
  t.equal(tokenFromAuthorization(`Bearer \t ${TOKEN} \t`), TOKEN, "Bearer: spaces and tabs around the token");
  t.equal(tokenFromAuthorization(`Bearer ${TOKEN}\r\n`), TOKEN, "Bearer: a trailing CRLF");
});

t.test("Bearer <JWT>", async (t) => {
  t.equal(tokenFromAuthorization(`Bearer ${TOKEN}`), TOKEN);
  t.equal(tokenFromAuthorization(`bearer ${TOKEN}`), TOKEN, "lowercase bearer");
  t.equal(tokenFromAuthorization(`BEARER ${TOKEN}`), TOKEN, "uppercase bearer");
});

type Row = [name: string, header: string | undefined, code: string];
const refused: Row[] = [
  ["missing header", undefined, "LICENSE_MISSING"],
  ["empty header", "", "LICENSE_MISSING"],
  ["blank header", "   ", "LICENSE_MISSING"],
  ["Basic with a wrong user name", basic(`admin:${TOKEN}`), "LICENSE_MALFORMED"],
  ["Basic with user name License", basic(`License:${TOKEN}`), "LICENSE_MALFORMED"],
  ["Basic with an empty user name", basic(`:${TOKEN}`), "LICENSE_MALFORMED"],
  ["Basic with an empty password", basic("license:"), "LICENSE_MALFORMED"],
  ["Basic with a password of whitespace only", basic("license: \n"), "LICENSE_MALFORMED"],
  ["Basic with a newline inside the JWT", basic(`license:${TOKEN.slice(0, 20)}\n${TOKEN.slice(20)}`), "LICENSE_MALFORMED"],
  ["Basic with a space inside the JWT", basic(`license:${TOKEN.replace(".", ". ")}`), "LICENSE_MALFORMED"],
  ["Basic with whitespace around the user name", basic(` license :${TOKEN}`), "LICENSE_MALFORMED"],
  ["Bearer with a space inside the JWT", `Bearer ${TOKEN.replace(".", ". ")}`, "LICENSE_MALFORMED"],
  ["Bearer with a tab inside the JWT", `Bearer ${TOKEN.replace(".", ".\t")}`, "LICENSE_MALFORMED"],
  // Each of these would be decoded "leniently" to license:abc1 by Buffer.from(…, "base64").
  ["Basic that is not base64", "Basic bGljZW5z!ZTphYmMx", "LICENSE_MALFORMED"],
  ["Basic with an impossible base64 length", "Basic bGljZW5zZTphYmMxA", "LICENSE_MALFORMED"],
  ["Basic with bad padding", "Basic bGljZW5zZTphYmM==", "LICENSE_MALFORMED"],
  ["Basic in base64url", `Basic ${Buffer.from("license:a?>?").toString("base64url")}`, "LICENSE_MALFORMED"],
  ["Basic without a colon", basic(`license${TOKEN}`), "LICENSE_MALFORMED"],
  ["Basic with no credentials", "Basic", "LICENSE_MALFORMED"],
  ["Basic with two credentials", `${basic(`license:${TOKEN}`)} extra`, "LICENSE_MALFORMED"],
  ["Bearer with no token", "Bearer", "LICENSE_MALFORMED"],
  ["Bearer with blank token", "Bearer    ", "LICENSE_MALFORMED"],
  ["unknown scheme", `Token ${TOKEN}`, "LICENSE_MALFORMED"],
  ["Digest scheme", `Digest username="license"`, "LICENSE_MALFORMED"],
  ["a bare token without scheme", TOKEN, "LICENSE_MALFORMED"],
  ["oversized Bearer header (> 8 KiB token)", `Bearer ${"a".repeat(8193)}`, "LICENSE_TOO_LARGE"],
  ["oversized Basic token (> 8 KiB after decoding)", basic(`license:${"a".repeat(8193)}`), "LICENSE_TOO_LARGE"],
  ["oversized raw header (> 11 KiB), refused before decoding", `Basic ${"!".repeat(12 * 1024)}`, "LICENSE_TOO_LARGE"],
];

t.test("refused Authorization headers", async (t) => {
  for (const [name, header, code] of refused) {
    const e = codeOf(() => tokenFromAuthorization(header));
    t.equal(e?.statusCode, 401, `${name}: 401`);
    t.equal(e?.code, code, `${name}: ${code}`);
    t.notOk(e?.message?.includes(TOKEN), `${name}: the token is not in the message`);
  }
});

t.test("the size limit is exactly 8 KiB", async (t) => {
  const max = "a".repeat(8192);
  t.equal(tokenFromAuthorization(`Bearer ${max}`), max);
  t.equal(tokenFromAuthorization(basic(`license:${max}`)), max, "a Basic header carrying the largest token fits");
  t.throws(() => tokenFromAuthorization(`Bearer ${max}a`), { code: "LICENSE_TOO_LARGE" });
  t.throws(() => tokenFromAuthorization(`Bearer ${"é".repeat(4097)}`), { code: "LICENSE_TOO_LARGE" }, "bytes, not characters");
  t.throws(() => tokenFromAuthorization(`Bearer ${"a".repeat(101)}`, 100), { code: "LICENSE_TOO_LARGE" }, "custom limit");
});
