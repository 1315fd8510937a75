import { generateKeyPairSync, hash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t, { type Test } from "tap";
import { LicenseKeyring, loadSigningKey } from "../../src/licensing/license-keys.js";
import { signLicense } from "../../src/licensing/issue-license.js";
import { LicenseVerifier } from "../../src/licensing/verify-license.js";

function setup(t: Test) {
  const dir = t.testdir({});
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(join(dir, "k.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
  const key = loadSigningKey(join(dir, "k.pem"));
  const verifier = new LicenseVerifier({ keyring: new LicenseKeyring({ signingKey: key }), defaultChannel: "stable" });
  const token = signLicense(key, { sub: "acme", channel: "beta", jti: "j1", exp: Math.floor(Date.now() / 1000) + 600 });
  return { verifier, token, basic: `Basic ${Buffer.from(`license:${token}`).toString("base64")}` };
}

t.test("verifyAuthorization: verified once, then answered from the cache by header", async (t) => {
  const { verifier, basic } = setup(t);
  t.equal(verifier.cachedForAuthorization(basic), undefined, "not cached before");
  const first = verifier.verifyAuthorization(basic);
  t.match(first, { sub: "acme", channel: "beta", jti: "j1" });
  const misses = verifier.stats().misses;
  t.equal(verifier.cachedForAuthorization(basic), first, "cached by header");
  t.equal(verifier.verifyAuthorization(basic), first);
  t.equal(verifier.stats().misses, misses, "no second verification");
  verifier.clear();
  t.equal(verifier.cachedForAuthorization(basic), undefined, "clear() forgets headers too");
});

t.test("a tampered or different header is never answered from another header's entry", async (t) => {
  const { verifier, token, basic } = setup(t);
  verifier.verifyAuthorization(basic);
  const [h, , s] = token.split(".");
  const tampered = `${h}.${Buffer.from(JSON.stringify({ sub: "mallory", exp: 9999999999 })).toString("base64url")}.${s}`;
  t.throws(() => verifier.verifyAuthorization(`Bearer ${tampered}`), { code: "LICENSE_BAD_SIGNATURE" });
  t.throws(() => verifier.verifyAuthorization(`Basic ${Buffer.from(`admin:${token}`).toString("base64")}`), { code: "LICENSE_MALFORMED" });
  t.throws(() => verifier.verifyAuthorization(undefined), { code: "LICENSE_MISSING" });
  t.equal(verifier.verifyAuthorization(`Bearer ${token}`).sub, "acme", "the same token by Bearer verifies on its own");
});

t.test("a raw token equal to a header's cache key is not answered from that header's entry", async (t) => {
  const { verifier, basic } = setup(t);
  verifier.verifyAuthorization(basic);
  // The header's cache key (its SHA-256, one character per byte) offered as a raw token.
  const digest = hash("sha256", basic, "binary");
  t.throws(() => verifier.verify(digest), { code: "LICENSE_MALFORMED" }, "parsed and refused like any other string");
});

t.test("interleaved look-ups: each header is cached under its own digest", async (t) => {
  const { verifier, basic, token } = setup(t);
  const bearer = `Bearer ${token}`;
  // The gate looks up a header, maybe another request's header in between
  // (a Redis-backed limit is awaited), then verifies the first one.
  t.equal(verifier.cachedForAuthorization(basic), undefined);
  t.equal(verifier.cachedForAuthorization(bearer), undefined);
  const a = verifier.verifyUncachedAuthorization(basic);
  t.equal(verifier.cachedForAuthorization(bearer), undefined, "the bearer header was not cached by the basic one's verification");
  t.equal(verifier.cachedForAuthorization(basic), a, "the basic header is cached under its own digest");
  const b = verifier.verifyUncachedAuthorization(bearer);
  t.equal(verifier.cachedForAuthorization(bearer), b);
  t.equal(verifier.cachedForAuthorization(basic), a);
  t.equal(verifier.stats().size, 2);
});

t.test("the cache's generations do not follow the wall clock: an NTP step back neither stretches nor drops entries", async (t) => {
  const { verifier, basic } = setup(t);
  const first = verifier.verifyAuthorization(basic);
  const realNow = Date.now;
  t.teardown(() => (Date.now = realNow));
  Date.now = () => realNow() - 3_600_000;
  t.equal(verifier.cachedForAuthorization(basic), first, "still cached an hour 'earlier': the generations run on performance.now");
  Date.now = () => realNow() + 601_000;
  t.equal(verifier.cachedForAuthorization(basic), undefined, "exp is still checked on the wall clock");
});
