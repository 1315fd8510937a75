import t from "tap";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { LicenseVerifier, MAX_LICENSE_EXP_SEC, type License } from "../../src/licensing/verify-license.js";
import { b64url, ecPair, edPair, hmacJwt, jwt, MapKeyring, rsaPair, signInput } from "./fixtures/jwt.js";

const NOW = 1_800_000_000_000; // ms; a fixed clock for every test
const nowSec = NOW / 1000;
const ISSUER = "https://licenses.example.com";
const AUDIENCE = "chartroom";

const rsa = rsaPair();
const ec = ecPair();
const ed = edPair();
const foreignRsa = rsaPair();
const foreignEc = ecPair();
const foreignEd = edPair();

function makeKeyring(): MapKeyring {
  return new MapKeyring().add("rsa-1", "RS256", rsa.publicKey).add("ec-1", "ES256", ec.publicKey).add("ed-1", "EdDSA", ed.publicKey);
}

function makeVerifier(opts: { clock?: () => number; issuer?: string; audience?: string; keyring?: MapKeyring } = {}) {
  const keyring = opts.keyring ?? makeKeyring();
  const verifier = new LicenseVerifier({
    keyring,
    defaultChannel: "stable",
    now: opts.clock ?? (() => NOW),
    ...(opts.issuer !== undefined ? { issuer: opts.issuer } : {}),
    ...(opts.audience !== undefined ? { audience: opts.audience } : {}),
  });
  return { verifier, keyring };
}

const claims = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  sub: "acme-corp",
  channel: "stable",
  jti: "lic-0001",
  iss: ISSUER,
  aud: AUDIENCE,
  iat: nowSec - 10,
  exp: nowSec + 3600,
  ...over,
});
const without = (name: string): Record<string, unknown> => {
  const c = claims();
  delete c[name];
  return c;
};

const rsaHeader = { alg: "RS256", typ: "JWT", kid: "rsa-1" };
const goodRsa = (over: Record<string, unknown> = {}) => jwt(rsaHeader, claims(over), rsa.privateKey, "RS256");
const good = goodRsa();
const [goodH, goodP, goodS] = good.split(".") as [string, string, string];

/** `header.payload.` — no signature at all. */
const unsigned = (header: Record<string, unknown>) => `${b64url(header)}.${b64url(claims())}.`;
/** A syntactically plausible but meaningless signature. */
const fakeSig = (header: Record<string, unknown>) => `${b64url(header)}.${b64url(claims())}.${b64url(Buffer.alloc(256, 7))}`;

const ecInput = `${b64url({ alg: "ES256", kid: "ec-1" })}.${b64url(claims())}`;
const tamperedPayload = b64url({ ...claims(), sub: "someone-else" });
const rsaPublicPem = rsa.publicKey.export({ type: "spki", format: "pem" }).toString();
const foreignJwk = foreignRsa.publicKey.export({ format: "jwk" });

type Row = [name: string, token: string, code: string];
const hostile: Row[] = [
  ["alg none, unsigned", unsigned({ alg: "none", kid: "rsa-1" }), "LICENSE_MALFORMED"],
  ["alg None, unsigned", unsigned({ alg: "None", kid: "rsa-1" }), "LICENSE_MALFORMED"],
  ["alg NONE, unsigned", unsigned({ alg: "NONE", kid: "rsa-1" }), "LICENSE_MALFORMED"],
  ["alg none with a signature segment", fakeSig({ alg: "none", kid: "rsa-1" }), "LICENSE_ALG_NOT_ALLOWED"],
  ["alg NONE with a signature segment", fakeSig({ alg: "NONE", kid: "rsa-1" }), "LICENSE_ALG_NOT_ALLOWED"],
  ["alg missing", fakeSig({ kid: "rsa-1" }), "LICENSE_ALG_NOT_ALLOWED"],
  ["alg an object", fakeSig({ alg: { RS256: true }, kid: "rsa-1" }), "LICENSE_ALG_NOT_ALLOWED"],
  ["stripped signature", `${goodH}.${goodP}.`, "LICENSE_MALFORMED"],
  ["truncated signature", `${goodH}.${goodP}.${goodS.slice(0, -12)}`, "LICENSE_BAD_SIGNATURE"],
  ["tampered payload", `${goodH}.${tamperedPayload}.${goodS}`, "LICENSE_BAD_SIGNATURE"],
  ["tampered header (typ changed)", `${b64url({ ...rsaHeader, typ: "JOSE" })}.${goodP}.${goodS}`, "LICENSE_BAD_SIGNATURE"],
  ["RS256→HS256 with the RSA public key PEM as HMAC secret", hmacJwt({ alg: "HS256", kid: "rsa-1" }, claims(), rsaPublicPem, "sha256"), "LICENSE_ALG_NOT_ALLOWED"],
  ["HS512", hmacJwt({ alg: "HS512", kid: "rsa-1" }, claims(), "a-shared-secret-of-reasonable-length", "sha512"), "LICENSE_ALG_NOT_ALLOWED"],
  ["foreign key under a trusted kid (RS256)", jwt(rsaHeader, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_BAD_SIGNATURE"],
  ["foreign key under a trusted kid (ES256)", jwt({ alg: "ES256", kid: "ec-1" }, claims(), foreignEc.privateKey, "ES256"), "LICENSE_BAD_SIGNATURE"],
  ["foreign key under a trusted kid (EdDSA)", jwt({ alg: "EdDSA", kid: "ed-1" }, claims(), foreignEd.privateKey, "EdDSA"), "LICENSE_BAD_SIGNATURE"],
  ["unknown kid", jwt({ alg: "RS256", kid: "rsa-2" }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["kid ../../etc/passwd", jwt({ alg: "RS256", kid: "../../etc/passwd" }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["kid __proto__", jwt({ alg: "RS256", kid: "__proto__" }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["kid as a number", jwt({ alg: "RS256", kid: 1 }, claims(), rsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["kid as an array", jwt({ alg: "RS256", kid: ["rsa-1"] }, claims(), rsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["missing kid", jwt({ alg: "RS256" }, claims(), rsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["jku pointing elsewhere, foreign key, trusted kid", jwt({ ...rsaHeader, jku: "https://attacker.example/jwks.json" }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_BAD_SIGNATURE"],
  ["jku pointing elsewhere, foreign kid", jwt({ alg: "RS256", kid: "attacker", jku: "http://127.0.0.1:9/jwks.json" }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["x5u pointing elsewhere, foreign key", jwt({ ...rsaHeader, x5u: "https://attacker.example/cert.pem" }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_BAD_SIGNATURE"],
  ["embedded jwk of a foreign key, trusted kid", jwt({ ...rsaHeader, jwk: foreignJwk }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_BAD_SIGNATURE"],
  ["embedded jwk of a foreign key, no kid", jwt({ alg: "RS256", jwk: foreignJwk }, claims(), foreignRsa.privateKey, "RS256"), "LICENSE_UNKNOWN_KID"],
  ["unknown crit extension (correctly signed)", jwt({ ...rsaHeader, crit: ["x-chartroom"], "x-chartroom": 1 }, claims(), rsa.privateKey, "RS256"), "LICENSE_MALFORMED"],
  ["ES256 signature of all zeros", `${ecInput}.${b64url(Buffer.alloc(64))}`, "LICENSE_BAD_SIGNATURE"],
  ["short ES256 signature", `${ecInput}.${b64url(signInput("ES256", ec.privateKey, ecInput).subarray(0, 32))}`, "LICENSE_BAD_SIGNATURE"],
  ["ES256 signature in DER instead of JOSE form", `${ecInput}.${b64url(Buffer.from(signInput("RS256", ec.privateKey, ecInput)))}`, "LICENSE_BAD_SIGNATURE"],
  ["lowercase rs256", jwt({ alg: "rs256", kid: "rsa-1" }, claims(), rsa.privateKey, "RS256"), "LICENSE_ALG_NOT_ALLOWED"],
  ["RS512 (same RSA key)", fakeSig({ alg: "RS512", kid: "rsa-1" }), "LICENSE_ALG_NOT_ALLOWED"],
  ["PS256 (same RSA key)", fakeSig({ alg: "PS256", kid: "rsa-1" }), "LICENSE_ALG_NOT_ALLOWED"],
  ["header alg ES256 for the RSA kid", jwt({ alg: "ES256", kid: "rsa-1" }, claims(), ec.privateKey, "ES256"), "LICENSE_ALG_NOT_ALLOWED"],
  ["expired beyond the 60 s skew", goodRsa({ exp: nowSec - 61 }), "LICENSE_EXPIRED"],
  ["nbf beyond the 60 s skew", goodRsa({ nbf: nowSec + 61 }), "LICENSE_NOT_YET_VALID"],
  ["iat beyond the 60 s skew", goodRsa({ iat: nowSec + 120 }), "LICENSE_NOT_YET_VALID"],
  ["wrong iss", goodRsa({ iss: "https://evil.example.com" }), "LICENSE_WRONG_ISSUER"],
  ["missing iss (issuer configured)", jwt(rsaHeader, without("iss"), rsa.privateKey, "RS256"), "LICENSE_WRONG_ISSUER"],
  ["iss as an array containing the issuer", goodRsa({ iss: [ISSUER] }), "LICENSE_WRONG_ISSUER"],
  ["wrong aud", goodRsa({ aud: "someone-else" }), "LICENSE_WRONG_AUDIENCE"],
  ["aud array without the audience", goodRsa({ aud: ["a", "b"] }), "LICENSE_WRONG_AUDIENCE"],
  ["missing aud (audience configured)", jwt(rsaHeader, without("aud"), rsa.privateKey, "RS256"), "LICENSE_WRONG_AUDIENCE"],
  ["missing exp", jwt(rsaHeader, without("exp"), rsa.privateKey, "RS256"), "LICENSE_CLAIMS_INVALID"],
  ["exp null", goodRsa({ exp: null }), "LICENSE_CLAIMS_INVALID"],
  ["exp as a string", goodRsa({ exp: String(nowSec + 3600) }), "LICENSE_CLAIMS_INVALID"],
  ["nbf as a string", goodRsa({ nbf: String(nowSec) }), "LICENSE_CLAIMS_INVALID"],
  ["iat as a string", goodRsa({ iat: String(nowSec) }), "LICENSE_CLAIMS_INVALID"],
  ["missing sub", jwt(rsaHeader, without("sub"), rsa.privateKey, "RS256"), "LICENSE_CLAIMS_INVALID"],
  ["sub not a string", goodRsa({ sub: 42 }), "LICENSE_CLAIMS_INVALID"],
  ["sub empty", goodRsa({ sub: "" }), "LICENSE_CLAIMS_INVALID"],
  ["sub longer than 256", goodRsa({ sub: "x".repeat(257) }), "LICENSE_CLAIMS_INVALID"],
  ["channel claim with a bad type", goodRsa({ channel: 7 }), "LICENSE_CLAIMS_INVALID"],
  ["channel claim null", goodRsa({ channel: null }), "LICENSE_CLAIMS_INVALID"],
  ["channel claim not a channel name", goodRsa({ channel: "../prod" }), "LICENSE_CLAIMS_INVALID"],
  ["jti not a string", goodRsa({ jti: 5 }), "LICENSE_CLAIMS_INVALID"],
  // one rule with the admin API's identifiers (src/domain/schemas.ts, issue #13)
  ["sub with a NUL", goodRsa({ sub: "acme\u0000corp" }), "LICENSE_CLAIMS_INVALID"],
  ["sub with a lone surrogate", goodRsa({ sub: "acme\ud800" }), "LICENSE_CLAIMS_INVALID"],
  ["sub with a line break", goodRsa({ sub: "acme\ncorp" }), "LICENSE_CLAIMS_INVALID"],
  ["jti empty", goodRsa({ jti: "" }), "LICENSE_CLAIMS_INVALID"],
  ["jti longer than 256", goodRsa({ jti: "j".repeat(257) }), "LICENSE_CLAIMS_INVALID"],
  ["jti with a NUL", goodRsa({ jti: "lic\u0000" }), "LICENSE_CLAIMS_INVALID"],
  ["jti with a lone surrogate", goodRsa({ jti: "\udc00lic" }), "LICENSE_CLAIMS_INVALID"],
  ["payload not JSON (correctly signed)", jwt(rsaHeader, "not json", rsa.privateKey, "RS256"), "LICENSE_MALFORMED"],
  ["payload a JSON array (correctly signed)", jwt(rsaHeader, JSON.stringify([1, 2]), rsa.privateKey, "RS256"), "LICENSE_MALFORMED"],
  ["oversized (> 8 KiB), correctly signed", goodRsa({ pad: "x".repeat(9000) }), "LICENSE_TOO_LARGE"],
  ["oversized garbage", "a".repeat(8193), "LICENSE_TOO_LARGE"],
  ["garbage", "this is not a jwt", "LICENSE_MALFORMED"],
  ["two segments", `${goodH}.${goodP}`, "LICENSE_MALFORMED"],
  ["five segments (JWE shape)", `${goodH}.${goodP}.${goodS}.${goodS}.${goodS}`, "LICENSE_MALFORMED"],
  ["four segments", `${goodH}.${goodP}.${goodS}.x`, "LICENSE_MALFORMED"],
  ["empty string", "", "LICENSE_MALFORMED"],
  ["dots only", "..", "LICENSE_MALFORMED"],
  ["header not JSON", `${b64url("{not json")}.${goodP}.${goodS}`, "LICENSE_MALFORMED"],
  ["header a JSON array", `${b64url(["RS256"])}.${goodP}.${goodS}`, "LICENSE_MALFORMED"],
  ["header JSON null", `${b64url("null")}.${goodP}.${goodS}`, "LICENSE_MALFORMED"],
  ["padded base64 signature", `${goodH}.${goodP}.${goodS}==`, "LICENSE_MALFORMED"],
  ["whitespace inside the token", `${goodH}.${goodP}. ${goodS}`, "LICENSE_MALFORMED"],
];

t.test("hostile tokens are refused with the catalogue's 401 errors", async (t) => {
  t.ok(hostile.length >= 28, `at least 28 rows (${hostile.length})`);

  // No verification may ever reach the network (jku / x5u / jwk are ignored).
  const saved = {
    fetch: globalThis.fetch,
    httpRequest: http.request,
    httpGet: http.get,
    httpsRequest: https.request,
    httpsGet: https.get,
    netConnect: net.connect,
    netCreateConnection: net.createConnection,
  };
  let outbound = 0;
  const trap = ((..._args: unknown[]) => {
    outbound++;
    throw new Error("outbound request attempted");
  }) as never;
  globalThis.fetch = trap;
  http.request = trap;
  http.get = trap;
  https.request = trap;
  https.get = trap;
  net.connect = trap;
  net.createConnection = trap;
  t.teardown(() => {
    globalThis.fetch = saved.fetch;
    http.request = saved.httpRequest;
    http.get = saved.httpGet;
    https.request = saved.httpsRequest;
    https.get = saved.httpsGet;
    net.connect = saved.netConnect;
    net.createConnection = saved.netCreateConnection;
  });

  const { verifier } = makeVerifier({ issuer: ISSUER, audience: AUDIENCE });
  for (const [name, token, code] of hostile) {
    let caught: unknown;
    try {
      verifier.verify(token);
    } catch (err) {
      caught = err;
    }
    const e = caught as { statusCode?: number; code?: string; message?: string } | undefined;
    t.equal(e?.statusCode, 401, `${name}: 401`);
    t.equal(e?.code, code, `${name}: ${code}`);
    // The token never appears in the message (a short prefix of it would do to leak it).
    if (token.length > 20) t.notOk(e?.message?.includes(token.slice(0, 20)), `${name}: no token in the message`);
  }
  t.equal(outbound, 0, "no outbound request was attempted");
  t.equal(verifier.stats().size, 0, "no refused token was cached");

  // After all that, a good token still verifies.
  const license = verifier.verify(good);
  t.equal(license.sub, "acme-corp");
});

t.test("clock skew: up to 60 s is tolerated", async (t) => {
  const { verifier } = makeVerifier({ issuer: ISSUER, audience: AUDIENCE });
  t.equal(verifier.verify(goodRsa({ exp: nowSec - 30 })).exp, nowSec - 30, "exp 30 s in the past");
  t.equal(verifier.verify(goodRsa({ nbf: nowSec + 30 })).nbf, nowSec + 30, "nbf 30 s in the future");
  t.equal(verifier.verify(goodRsa({ iat: nowSec + 30 })).iat, nowSec + 30, "iat 30 s in the future");
  t.throws(() => verifier.verify(goodRsa({ exp: nowSec - 61 })), { code: "LICENSE_EXPIRED" });
});

t.test("a custom clockToleranceSec is honoured", async (t) => {
  const verifier = new LicenseVerifier({ keyring: makeKeyring(), defaultChannel: "stable", clockToleranceSec: 5, now: () => NOW });
  t.throws(() => verifier.verify(goodRsa({ exp: nowSec - 30 })), { code: "LICENSE_EXPIRED" });
  t.ok(verifier.verify(goodRsa({ exp: nowSec - 4 })));
});

t.test("the default clock is the real time", async (t) => {
  const verifier = new LicenseVerifier({ keyring: makeKeyring(), defaultChannel: "stable" });
  const real = Math.floor(Date.now() / 1000);
  t.equal(verifier.verify(goodRsa({ iat: real, exp: real + 600 })).sub, "acme-corp");
  // iat and exp are checked against the real clock.
  t.throws(() => verifier.verify(goodRsa({ iat: real + 3600, exp: real + 7200 })), { code: "LICENSE_NOT_YET_VALID" });
  t.throws(() => verifier.verify(goodRsa({ iat: real - 7200, exp: real - 3600 })), { code: "LICENSE_EXPIRED" });
});

t.test("iss and aud are ignored when not configured", async (t) => {
  const { verifier } = makeVerifier();
  t.equal(verifier.verify(goodRsa({ iss: "https://anyone.example", aud: "anything" })).sub, "acme-corp");
  t.equal(verifier.verify(jwt(rsaHeader, without("iss"), rsa.privateKey, "RS256")).sub, "acme-corp");
  t.equal(verifier.verify(jwt(rsaHeader, without("aud"), rsa.privateKey, "RS256")).sub, "acme-corp");
});

t.test("only the configured constraint applies", async (t) => {
  const issuerOnly = makeVerifier({ issuer: ISSUER }).verifier;
  t.ok(issuerOnly.verify(goodRsa({ aud: "whatever" })));
  t.throws(() => issuerOnly.verify(goodRsa({ iss: "x" })), { code: "LICENSE_WRONG_ISSUER" });
  const audOnly = makeVerifier({ audience: AUDIENCE }).verifier;
  t.ok(audOnly.verify(goodRsa({ iss: "whoever" })));
  t.throws(() => audOnly.verify(goodRsa({ aud: "x" })), { code: "LICENSE_WRONG_AUDIENCE" });
});

t.test("aud as an array containing the audience is accepted", async (t) => {
  const { verifier } = makeVerifier({ issuer: ISSUER, audience: AUDIENCE });
  t.equal(verifier.verify(goodRsa({ aud: ["other", AUDIENCE] })).sub, "acme-corp");
});

t.test("RS256, ES256 and EdDSA are each accepted", async (t) => {
  const { verifier } = makeVerifier({ issuer: ISSUER, audience: AUDIENCE });
  const cases: [string, string, string][] = [
    ["RS256", "rsa-1", jwt(rsaHeader, claims({ sub: "rs" }), rsa.privateKey, "RS256")],
    ["ES256", "ec-1", jwt({ alg: "ES256", kid: "ec-1" }, claims({ sub: "es" }), ec.privateKey, "ES256")],
    ["EdDSA", "ed-1", jwt({ alg: "EdDSA", kid: "ed-1" }, claims({ sub: "ed" }), ed.privateKey, "EdDSA")],
  ];
  for (const [alg, kid, token] of cases) {
    const license = verifier.verify(token);
    const expected: License = { sub: alg.slice(0, 2).toLowerCase(), channel: "stable", jti: "lic-0001", exp: nowSec + 3600, iat: nowSec - 10, kid };
    t.same(license, expected, alg);
  }
});

t.test("the license fields", async (t) => {
  const { verifier } = makeVerifier();
  const withChannel = verifier.verify(goodRsa({ channel: "fast-ring", nbf: nowSec - 5 }));
  t.same(withChannel, { sub: "acme-corp", channel: "fast-ring", jti: "lic-0001", exp: nowSec + 3600, iat: nowSec - 10, nbf: nowSec - 5, kid: "rsa-1" });
  const noChannel = verifier.verify(jwt(rsaHeader, { sub: "bare", exp: nowSec + 60 }, rsa.privateKey, "RS256"));
  t.same(noChannel, { sub: "bare", channel: "stable", exp: nowSec + 60, kid: "rsa-1" }, "channel defaults; absent claims stay absent; kid: the key that verified it");
  t.equal(noChannel.jti, undefined);
  t.equal(JSON.stringify(noChannel), JSON.stringify({ sub: "bare", channel: "stable", exp: nowSec + 60, kid: "rsa-1" }), "and are not serialized");
  t.ok(Object.isFrozen(noChannel), "a cached license cannot be mutated by a caller");
  // what the admin API can address (issue #13): 256 characters, spaces, "/", any script
  for (const id of ["x".repeat(256), "acme corp/eu west", "ü".repeat(256), "😀".repeat(128)]) {
    const l = verifier.verify(goodRsa({ sub: id, jti: id }));
    t.same([l.sub, l.jti], [id, id], `sub and jti ${JSON.stringify(id.slice(0, 20))} (${id.length} units) verify`);
  }
});

t.test("a non-catalogue failure is wrapped as a 401", async (t) => {
  const keyring = {
    get(): never {
      throw new TypeError("boom: internal detail");
    },
  };
  const verifier = new LicenseVerifier({ keyring, defaultChannel: "stable", now: () => NOW });
  t.throws(() => verifier.verify(good), { statusCode: 401, code: "LICENSE_MALFORMED" });
  try {
    verifier.verify(good);
  } catch (err) {
    t.notMatch((err as Error).message, /boom/, "internal messages do not leak");
  }
  t.throws(() => verifier.verify(42 as unknown as string), { statusCode: 401, code: "LICENSE_MALFORMED" });
});

t.test("cache: a second verify is a hit and does no key lookup or crypto", async (t) => {
  const { verifier, keyring } = makeVerifier({ issuer: ISSUER, audience: AUDIENCE });
  const first = verifier.verify(good);
  t.same(verifier.stats(), { hits: 0, misses: 1, size: 1, max: 200_000 });
  t.equal(keyring.lookups, 1);
  const second = verifier.verify(good);
  t.equal(second, first, "the cached license object");
  t.same(verifier.stats(), { hits: 1, misses: 1, size: 1, max: 200_000 });
  t.equal(keyring.lookups, 1, "no key lookup, hence no signature check, on a hit");
});

t.test("cache: refused tokens are not cached", async (t) => {
  const { verifier, keyring } = makeVerifier({ issuer: ISSUER });
  const bad = goodRsa({ iss: "nope" });
  t.throws(() => verifier.verify(bad), { code: "LICENSE_WRONG_ISSUER" });
  t.throws(() => verifier.verify(bad), { code: "LICENSE_WRONG_ISSUER" });
  t.equal(keyring.lookups, 2);
  t.same(verifier.stats(), { hits: 0, misses: 2, size: 0, max: 200_000 });
});

t.test("cache: an entry never outlives the token's exp", async (t) => {
  let clock = NOW;
  const { verifier, keyring } = makeVerifier({ clock: () => clock });
  const token = goodRsa({ exp: nowSec + 5 });
  verifier.verify(token);
  clock = NOW + 4_999;
  verifier.verify(token);
  t.equal(verifier.stats().hits, 1, "a hit before exp");
  clock = NOW + 5_001;
  // Past exp but within the skew: verified again (a miss), and not re-cached.
  t.equal(verifier.verify(token).sub, "acme-corp");
  t.equal(verifier.stats().hits, 1, "a miss after exp");
  t.equal(keyring.lookups, 2);
  verifier.verify(token);
  t.equal(verifier.stats().hits, 1, "still a miss: it was not cached again");
  clock = NOW + 66_000;
  t.throws(() => verifier.verify(token), { code: "LICENSE_EXPIRED" }, "beyond the skew it is refused");
});

t.test("cache: an entry is served until the license's exp, not a fixed time (an hourly poller stays warm)", async (t) => {
  let clock = NOW;
  const { verifier } = makeVerifier({ clock: () => clock });
  const month = goodRsa({ exp: nowSec + 30 * 86_400 });
  verifier.verify(month);
  verifier.verify(good); // exp in one hour
  for (let hour = 1; hour <= 24 * 29; hour++) {
    clock = NOW + hour * 3_600_000 - 1000;
    verifier.verify(month);
  }
  t.same(verifier.stats(), { hits: 24 * 29, misses: 2, size: 2, max: 200_000 }, "29 days of hourly polls: one signature check");
  clock = NOW + 3_599_000;
  verifier.verify(good);
  t.equal(verifier.stats().misses, 2, "the one-hour license: still a hit one second before exp");
  clock = NOW + 3_600_000;
  t.ok(verifier.verify(good), "at exp: verified again (accepted within the clock tolerance)…");
  t.equal(verifier.stats().misses, 3);
  t.equal(verifier.stats().size, 1, "…but no longer cached");
  clock = NOW + 3_661_000;
  t.throws(() => verifier.verify(good), { code: "LICENSE_EXPIRED" }, "and refused once past the tolerance");
});

t.test("a far-future exp is read as 9999-12-31T23:59:59Z: verified, cached, representable", async (t) => {
  const { verifier } = makeVerifier();
  const max = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;
  t.equal(MAX_LICENSE_EXP_SEC, max);
  for (const exp of [Number.MAX_SAFE_INTEGER, 1e20, 1e308, max + 1]) {
    const license = verifier.verify(goodRsa({ exp }));
    t.equal(license.exp, max, `exp ${exp} is clamped`);
    t.equal(new Date(license.exp * 1000).toISOString(), "9999-12-31T23:59:59.000Z", `exp ${exp}: a date every client can read`);
  }
  // JSON.parse reads 1e309 as Infinity: "never", like the others.
  const input = `${b64url(rsaHeader)}.${Buffer.from(JSON.stringify(claims()).replace(/"exp":\d+/, '"exp":1e309')).toString("base64url")}`;
  const infinite = `${input}.${b64url(signInput("RS256", rsa.privateKey, input))}`;
  t.equal(verifier.verify(infinite).exp, max, "exp 1e309 (Infinity) is clamped too");
  t.equal(verifier.verify(goodRsa({ exp: max })).exp, max, "the maximum itself is kept");
  t.equal(verifier.verify(goodRsa({ exp: max - 1 })).exp, max - 1, "and anything below it");
  t.equal(verifier.verify(goodRsa({ exp: 1e308 })), verifier.verify(goodRsa({ exp: 1e308 })), "cached like any other");
  t.throws(() => verifier.verify(goodRsa({ exp: -1e308 })), { statusCode: 401, code: /^LICENSE_/ }, "a far-past exp is refused (a 401, never a 500)");
});

t.test("cache: clear() makes the next verify a miss", async (t) => {
  const { verifier, keyring } = makeVerifier();
  verifier.verify(good);
  verifier.verify(good);
  t.equal(verifier.stats().hits, 1);
  verifier.clear();
  t.equal(verifier.stats().size, 0);
  verifier.verify(good);
  t.same(verifier.stats(), { hits: 1, misses: 2, size: 1, max: 200_000 });
  t.equal(keyring.lookups, 2);
});

t.test("cache: cacheSize bounds the entries", async (t) => {
  const verifier = new LicenseVerifier({ keyring: makeKeyring(), defaultChannel: "stable", cacheSize: 2, now: () => NOW });
  for (const sub of ["a", "b", "c"]) verifier.verify(goodRsa({ sub }));
  t.same(verifier.stats(), { hits: 0, misses: 3, size: 2, max: 2 });
});
