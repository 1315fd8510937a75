import t from "tap";
import { execFileSync } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { open, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { calculateJwkThumbprint, createLocalJWKSet, jwtVerify, type JWK } from "jose";
import {
  ensureDevKeys,
  jwkThumbprint,
  LicenseKeyring,
  loadJwksFile,
  loadSigningKey,
  type KeyringLogger,
} from "../../src/licensing/license-keys.js";
import { signLicense } from "../../src/licensing/issue-license.js";
import { LicenseVerifier } from "../../src/licensing/verify-license.js";
import { eventually } from "../helpers/eventually.js";
import { ecPair, edPair, jwt, rsaPair, type KeyPair } from "./fixtures/jwt.js";

const rsa = rsaPair();
const ec = ecPair();
const ed = edPair();

const publicJwk = (k: KeyObject, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  ...k.export({ format: "jwk" }),
  ...extra,
});
const privateJwk = (k: KeyObject): Record<string, unknown> => ({ ...k.export({ format: "jwk" }) });
const jwks = (...keys: Record<string, unknown>[]) => JSON.stringify({ keys });
const nowSec = () => Math.floor(Date.now() / 1000);

class MemoryLog implements KeyringLogger {
  lines: { level: string; o: object; m: string }[] = [];
  info(o: object, m: string) {
    this.lines.push({ level: "info", o, m });
  }
  warn(o: object, m: string) {
    this.lines.push({ level: "warn", o, m });
  }
  error(o: object, m: string) {
    this.lines.push({ level: "error", o, m });
  }
}

/** Writes files into one directory (a tap testdir) and returns their paths. */
function writer(dir: string): (name: string, content: string | Buffer) => string {
  return (name, content) => {
    const file = join(dir, name);
    writeFileSync(file, content);
    return file;
  };
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error("expected a throw");
}

t.test("a JWKS with RSA, EC P-256 and OKP Ed25519 keys loads", async (t) => {
  const put = writer(t.testdir());
  const file = put(
    "jwks.json",
    jwks(
      publicJwk(rsa.publicKey, { kid: "rsa-1", alg: "RS256", use: "sig" }),
      publicJwk(ec.publicKey, { kid: "ec-1" }),
      publicJwk(ed.publicKey), // no kid: gets its thumbprint
    ),
  );
  const keys = loadJwksFile(file);
  t.same(
    keys.map((k) => [k.kid.length > 0, k.alg]),
    [
      [true, "RS256"],
      [true, "ES256"],
      [true, "EdDSA"],
    ],
  );
  t.equal(keys[0]?.kid, "rsa-1");
  t.equal(keys[1]?.kid, "ec-1");
  t.equal(keys[2]?.kid, await calculateJwkThumbprint(publicJwk(ed.publicKey) as JWK, "sha256"), "the RFC 7638 thumbprint");
  t.ok(keys[0]?.publicKey.equals(rsa.publicKey), "the RSA key material");
  t.equal(keys[1]?.publicKey.type, "public");
});

t.test("jwkThumbprint agrees with jose (RFC 7638) for RSA, EC and OKP", async (t) => {
  for (const k of [rsa, ec, ed]) {
    const jwk = publicJwk(k.publicKey, { kid: "ignored", alg: "ignored" });
    t.equal(jwkThumbprint(jwk), await calculateJwkThumbprint(jwk as JWK, "sha256"), String(jwk.kty));
  }
  t.throws(() => jwkThumbprint({ kty: "EC", crv: "P-256", x: "abc" }), /member "y" is missing/);
  t.throws(() => jwkThumbprint({ kty: "XYZ" }), /kty/);
});

t.test("key files that cannot be trusted are refused, naming the file and the key", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const rsa1024 = rsaPair(1024);
  const p384 = ecPair("P-384");
  const ed448 = generateKeyPairSync("ed448");
  const good = publicJwk(rsa.publicKey, { kid: "ok" });
  const cases: [string, string, RegExp][] = [
    ["oct key", jwks(good, { kty: "oct", k: "c2VjcmV0LXNlY3JldC1zZWNyZXQ", kid: "hmac" }), /key #1 is a symmetric \(oct\) key/],
    ["oct key in disguise", jwks({ kty: "RSA", k: "c2VjcmV0", kid: "x" }), /key #0 is a symmetric/],
    ["RSA private key", jwks(good, { ...privateJwk(rsa.privateKey), kid: "priv" }), /key #1 contains private key material/],
    ["EC private key", jwks({ ...privateJwk(ec.privateKey), kid: "priv" }), /key #0 contains private key material \("d"\)/],
    ["OKP private key", jwks({ ...privateJwk(ed.privateKey), kid: "priv" }), /key #0 contains private key material/],
    ["RSA 1024", jwks(publicJwk(rsa1024.publicKey, { kid: "weak" })), /key #0 is a 1024-bit RSA key/],
    ["EC P-384", jwks(publicJwk(p384.publicKey, { kid: "p384" })), /key #0 EC curve "P-384" is not supported/],
    ["Ed448", jwks(publicJwk(ed448.publicKey, { kid: "ed448" })), /key #0 OKP curve "Ed448" is not supported/],
    ["alg that contradicts the key", jwks(good, publicJwk(ec.publicKey, { kid: "e", alg: "RS256" })), /key #1 declares alg "RS256"/],
    ["HS256 alg on an RSA key", jwks(publicJwk(rsa.publicKey, { alg: "HS256" })), /key #0 declares alg "HS256"/],
    ["encryption key", jwks(publicJwk(rsa.publicKey, { use: "enc" })), /key #0 has use "enc"/],
    ["numeric kid", jwks(publicJwk(rsa.publicKey, { kid: 7 })), /key #0 has a kid that is not a non-empty string/],
    ["duplicate kid", jwks(good, publicJwk(ec.publicKey, { kid: "ok" })), /key #1 repeats kid "ok"/],
    ["unknown kty", jwks({ kty: "XYZ", kid: "x" }), /key #0 key type "XYZ" is not supported/],
    ["a key that is not an object", jwks(good, "nope" as unknown as Record<string, unknown>), /key #1 is not a JSON object/],
    ["EC point not on the curve", jwks({ kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA", kid: "x" }), /key #0 is not a valid public key/],
    ["broken RSA modulus", jwks({ kty: "RSA", n: "AQAB", e: "AQAB", kid: "x" }), /key #0/],
    ["no keys array", JSON.stringify({ key: [] }), /must be a JSON object with a "keys" array/],
    ["bad JSON", "{ not json", /is not valid JSON/],
  ];
  for (const [name, content, pattern] of cases) {
    const file = put(`${name.replace(/\W+/g, "-")}.json`, content);
    const err = errorOf(() => loadJwksFile(file));
    t.match(err.message, pattern, name);
    t.ok(err.message.includes(file), `${name}: the message names the file`);
  }
  const missing = join(dir, "absent.json");
  const err = errorOf(() => loadJwksFile(missing));
  t.match(err.message, /cannot be read/);
  t.ok(err.message.includes(missing), "an unreadable file is named");
});

t.test("rotation: keys come and go with the JWKS file", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const a = rsaPair();
  const b = ecPair();
  const file = put("jwks.json", jwks(publicJwk(a.publicKey, { kid: "key-a" }), publicJwk(b.publicKey, { kid: "key-b" })));
  const log = new MemoryLog();
  const keyring = new LicenseKeyring({ jwksFile: file, log });
  const verifier = new LicenseVerifier({ keyring, defaultChannel: "stable" });
  const claims = { sub: "acme", exp: nowSec() + 3600 };
  const tokenA = jwt({ alg: "RS256", kid: "key-a" }, claims, a.privateKey, "RS256");
  const tokenB = jwt({ alg: "ES256", kid: "key-b" }, claims, b.privateKey, "ES256");

  t.equal(keyring.size, 2);
  t.same(keyring.kids(), ["key-a", "key-b"]);
  t.equal(verifier.verify(tokenA).sub, "acme", "old key verifies");
  t.equal(verifier.verify(tokenB).sub, "acme", "new key verifies");

  // Retire key A.
  writeFileSync(file, jwks(publicJwk(b.publicKey, { kid: "key-b" })));
  t.equal(keyring.reload(), true);
  t.equal(keyring.size, 1);
  t.equal(keyring.get("key-a"), undefined);
  t.match(log.lines.at(-1), { level: "info", o: { file, kids: ["key-b"] } });
  // A cached verification would outlive the key: that is why onChange drops its entries.
  t.equal(verifier.verify(tokenA).sub, "acme", "still cached before retainTrustedKeys()");
  t.equal(verifier.retainTrustedKeys(), 1, "key A's one cached license dropped");
  t.throws(() => verifier.verify(tokenA), { statusCode: 401, code: "LICENSE_UNKNOWN_KID" }, "retired key's tokens fail");
  const misses = verifier.stats().misses;
  t.equal(verifier.verify(tokenB).sub, "acme", "the remaining key still verifies");
  t.equal(verifier.stats().misses, misses, "from the cache: key B's license was kept");

  // A bad rewrite keeps the previous keys.
  for (const bad of ["{ truncated", jwks({ kty: "oct", k: "c2VjcmV0", kid: "key-b" })]) {
    writeFileSync(file, bad);
    t.equal(keyring.reload(), false, "reload reports the failure");
    t.match(log.lines.at(-1), { level: "error", o: { file } });
    t.match((log.lines.at(-1)?.o as { err: string }).err, file, "the logged error names the file");
    verifier.clear();
    t.equal(verifier.verify(tokenB).sub, "acme", "the previous keys stay in force");
    t.equal(keyring.size, 1);
  }
});

t.test("a key change drops only the cached licenses of keys no longer listed: a rotation that adds a key stays warm", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const a = rsaPair();
  const b = ecPair();
  const c = edPair();
  const aAgain = rsaPair(); // other key material under kid key-a
  const file = put("jwks.json", jwks(publicJwk(a.publicKey, { kid: "key-a" }), publicJwk(b.publicKey, { kid: "key-b" })));
  const keyring = new LicenseKeyring({ jwksFile: file, log: new MemoryLog() });
  const verifier = new LicenseVerifier({ keyring, defaultChannel: "stable" });
  const exp = nowSec() + 3600;
  const tokensA = Array.from({ length: 30 }, (_, i) => jwt({ alg: "RS256", kid: "key-a" }, { sub: `a-${i}`, exp }, a.privateKey, "RS256"));
  const tokensB = Array.from({ length: 20 }, (_, i) => jwt({ alg: "ES256", kid: "key-b" }, { sub: `b-${i}`, exp }, b.privateKey, "ES256"));
  const headers = [...tokensA, ...tokensB].map((tok) => `Basic ${Buffer.from(`license:${tok}`).toString("base64")}`);
  for (const h of headers) verifier.verifyAuthorization(h);
  t.equal(verifier.stats().size, 50);

  // Rotation, step 1: key C is added. Nothing is dropped; every poll is a hit.
  writeFileSync(file, jwks(publicJwk(a.publicKey, { kid: "key-a" }), publicJwk(b.publicKey, { kid: "key-b" }), publicJwk(c.publicKey, { kid: "key-c" })));
  t.equal(keyring.reload(), true);
  t.equal(verifier.retainTrustedKeys(), 0, "a key added: nothing dropped");
  const misses = verifier.stats().misses;
  for (const h of headers) verifier.verifyAuthorization(h);
  t.equal(verifier.stats().misses, misses, "all 50 served warm after the reload");

  // Step 2: key B is retired. Its 20 licenses go at once, key A's 30 stay.
  writeFileSync(file, jwks(publicJwk(a.publicKey, { kid: "key-a" }), publicJwk(c.publicKey, { kid: "key-c" })));
  t.equal(keyring.reload(), true);
  t.equal(verifier.retainTrustedKeys(), 20, "exactly key B's licenses dropped");
  t.equal(verifier.stats().size, 30);
  for (const h of headers.slice(30)) t.throws(() => verifier.verifyAuthorization(h), { code: "LICENSE_UNKNOWN_KID" });
  for (const h of headers.slice(0, 30)) verifier.verifyAuthorization(h);
  t.equal(verifier.stats().misses, misses + 20, "key A's licenses still hits; only B's were verified (and refused)");

  // The same kid with other key material: what the old key verified goes too.
  writeFileSync(file, jwks(publicJwk(aAgain.publicKey, { kid: "key-a" }), publicJwk(c.publicKey, { kid: "key-c" })));
  t.equal(keyring.reload(), true);
  t.equal(verifier.retainTrustedKeys(), 30, "key-a now names another key: its licenses dropped");
  t.throws(() => verifier.verifyAuthorization(headers[0]), { code: "LICENSE_BAD_SIGNATURE" }, "and re-verified against the new key");
  t.equal(verifier.stats().size, 0);
});

t.test("watch(): a changed file is reloaded and onChange is called", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const a = rsaPair();
  const b = edPair();
  const file = put("jwks.json", jwks(publicJwk(a.publicKey, { kid: "key-a" })));
  const keyring = new LicenseKeyring({ jwksFile: file, log: new MemoryLog() });
  const verifier = new LicenseVerifier({ keyring, defaultChannel: "stable" });
  let changes = 0;
  const stop = keyring.watch(() => {
    changes++;
    verifier.retainTrustedKeys();
  });
  t.teardown(stop);

  const tokenA = jwt({ alg: "RS256", kid: "key-a" }, { sub: "a", exp: nowSec() + 600 }, a.privateKey, "RS256");
  verifier.verify(tokenA);
  writeFileSync(file, jwks(publicJwk(b.publicKey, { kid: "key-b" })));
  // The file is stat'ed every second; no user is promised a time, so the deadline is generous.
  const noticed = await eventually(() => changes > 0, { within: 20_000, every: 50 });
  t.ok(noticed.ok, `the change was noticed: ${noticed.summary}`);
  t.equal(changes, 1);
  t.equal(keyring.get("key-b")?.alg, "EdDSA");
  t.throws(() => verifier.verify(tokenA), { code: "LICENSE_UNKNOWN_KID" }, "onChange dropped the removed key's license");

  stop();
  writeFileSync(file, jwks(publicJwk(a.publicKey, { kid: "key-a" }), publicJwk(b.publicKey, { kid: "key-b" })));
  await new Promise((resolve) => setTimeout(resolve, 2500));
  t.equal(changes, 1, "no more calls after stop()");
  t.equal(keyring.size, 1, "and no more reloads");
});

t.test("watch(): a write right after watch() is seen while the thread pool is busy (as on a loaded machine)", { skip: process.platform === "win32" ? "needs a FIFO" : false }, async (t) => {
  // Not t.testdir(): its clean-up uses the thread pool this test blocks.
  const dir = mkdtempSync(join(tmpdir(), "chartroom-keys-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const put = writer(dir);
  const a = rsaPair();
  const b = edPair();
  const file = put("jwks.json", jwks(publicJwk(a.publicKey, { kid: "key-a" })));
  // Every thread of libuv's pool waits in open() of a FIFO nobody writes to
  // (no CPU used): a watcher that stats on the pool (fs.watchFile) takes its
  // first stat only after the write below, and never sees it.
  const fifo = join(dir, "pool-blocker");
  execFileSync("mkfifo", [fifo]);
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
  const blocked = Array.from({ length: threads }, () => open(fifo, "r"));
  try {
    const keyring = new LicenseKeyring({ jwksFile: file, log: new MemoryLog() });
    let changes = 0;
    const stop = keyring.watch(() => changes++);
    try {
      writeFileSync(file, jwks(publicJwk(b.publicKey, { kid: "key-b" })));
      const noticed = await eventually(() => changes > 0, { within: 20_000, every: 50 });
      t.ok(noticed.ok, `noticed with the pool still busy: ${noticed.summary}`);
      t.equal(keyring.get("key-b")?.alg, "EdDSA");
    } finally {
      stop();
    }
  } finally {
    await freePool(fifo, blocked);
  }
});

/** Frees the pool threads waiting in open() of `fifo`: a writer that stays open until every one has returned. */
async function freePool(fifo: string, blocked: Promise<FileHandle>[]): Promise<void> {
  let w: number | undefined;
  for (const end = performance.now() + 30_000; w === undefined; ) {
    try {
      w = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      // ENXIO: no open() for reading has reached the FIFO yet.
      if ((err as NodeJS.ErrnoException).code !== "ENXIO" || performance.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  for (const h of await Promise.all(blocked)) await h.close();
  closeSync(w);
}

t.test("watch() without a JWKS file is a no-op", async (t) => {
  const keyring = new LicenseKeyring({});
  const stop = keyring.watch(() => t.fail("never called"));
  t.type(stop, "function");
  stop();
  t.equal(keyring.size, 0);
  t.same(keyring.publicJwks(), { keys: [] }, "no signing key: nothing to publish");
});

t.test("the keyring refuses a bad JWKS file at startup", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const file = put("jwks.json", jwks({ kty: "oct", k: "c2VjcmV0" }));
  const err = errorOf(() => new LicenseKeyring({ jwksFile: file }));
  t.ok(err.message.includes(file));
});

t.test("loadSigningKey for RSA, EC P-256 and Ed25519, PKCS#8 and traditional PEM", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const cases: [string, KeyPair, "pkcs8" | "pkcs1" | "sec1", string][] = [
    ["RSA PKCS#8", rsa, "pkcs8", "RS256"],
    ["RSA PKCS#1", rsa, "pkcs1", "RS256"],
    ["EC PKCS#8", ec, "pkcs8", "ES256"],
    ["EC SEC1", ec, "sec1", "ES256"],
    ["Ed25519 PKCS#8", ed, "pkcs8", "EdDSA"],
  ];
  for (const [name, pair, type, alg] of cases) {
    const file = put("key.pem", pair.privateKey.export({ type, format: "pem" }));
    const key = loadSigningKey(file);
    t.equal(key.alg, alg, `${name}: alg`);
    const pub = publicJwk(pair.publicKey);
    t.equal(key.kid, await calculateJwkThumbprint(pub as JWK, "sha256"), `${name}: kid is the RFC 7638 thumbprint`);
    t.same(key.publicJwk, { ...pub, kid: key.kid, alg, use: "sig" }, `${name}: public JWK`);
    t.notOk("d" in key.publicJwk, `${name}: no private material in the public JWK`);
    t.equal(key.privateKey.type, "private");
  }
});

t.test("loadSigningKey refuses what it cannot sign licenses with, naming the file", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const cases: [string, string, RegExp][] = [
    ["EC P-384", ecPair("P-384").privateKey.export({ type: "pkcs8", format: "pem" }).toString(), /key type EC secp384r1 is not supported/],
    ["Ed448", generateKeyPairSync("ed448").privateKey.export({ type: "pkcs8", format: "pem" }).toString(), /key type ed448 is not supported/],
    ["RSA 1024", rsaPair(1024).privateKey.export({ type: "pkcs8", format: "pem" }).toString(), /1024-bit RSA key/],
    ["a public key", rsa.publicKey.export({ type: "spki", format: "pem" }).toString(), /not an unencrypted PEM private key/],
    ["garbage", "hello", /not an unencrypted PEM private key/],
    [
      "an encrypted key",
      rsa.privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }).toString(),
      /not an unencrypted PEM private key/,
    ],
  ];
  for (const [name, pem, pattern] of cases) {
    const file = put("key.pem", pem);
    const err = errorOf(() => loadSigningKey(file));
    t.match(err.message, pattern, name);
    t.ok(err.message.includes(file), `${name}: names the file`);
  }
  const missing = join(dir, "none.pem");
  t.ok(errorOf(() => loadSigningKey(missing)).message.includes(missing));
});

t.test("issued licenses verify with jose (an independent library) and with our verifier", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  for (const [name, pair] of [
    ["RSA", rsa],
    ["EC", ec],
    ["Ed25519", ed],
  ] as const) {
    const key = loadSigningKey(put("key.pem", pair.privateKey.export({ type: "pkcs8", format: "pem" })));
    // The JWKS file holds another key; publicJwks() still serves only the signing key.
    const other = put("jwks.json", jwks(publicJwk(rsaPair().publicKey, { kid: "vendor" })));
    const keyring = new LicenseKeyring({ jwksFile: other, signingKey: key });
    t.equal(keyring.size, 2, `${name}: JWKS key + own key`);
    t.same(
      keyring.publicJwks().keys.map((k) => k.kid),
      [key.kid],
      `${name}: only the signing key is published`,
    );

    const exp = nowSec() + 3600;
    const token = signLicense(key, { sub: "acme", channel: "fast", jti: "lic-1", exp, iss: "chartroom", aud: "chartroom" });
    const header = JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()) as Record<string, unknown>;
    t.match(header, { alg: key.alg, kid: key.kid }, `${name}: header`);

    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keyring.publicJwks() as { keys: JWK[] }), {
      algorithms: [key.alg],
      issuer: "chartroom",
      audience: "chartroom",
    });
    t.equal(protectedHeader.kid, key.kid);
    t.match(payload, { sub: "acme", channel: "fast", jti: "lic-1", exp }, `${name}: jose verifies`);
    t.type(payload.iat, "number", `${name}: iat defaults to now`);

    const verifier = new LicenseVerifier({ keyring, issuer: "chartroom", audience: "chartroom", defaultChannel: "stable" });
    t.match(verifier.verify(token), { sub: "acme", channel: "fast", jti: "lic-1", exp }, `${name}: our verifier`);
  }
});

t.test("signLicense keeps an explicit iat and omits absent iss/aud", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const key = loadSigningKey(put("key.pem", ed.privateKey.export({ type: "pkcs8", format: "pem" })));
  const token = signLicense(key, { sub: "s", channel: "stable", jti: "j", exp: 2_000_000_000, iat: 1_900_000_000 });
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString()) as Record<string, unknown>;
  t.same(payload, { sub: "s", channel: "stable", jti: "j", exp: 2_000_000_000, iat: 1_900_000_000 });
});

t.test("the keyring refuses a JWKS key that squats on the signing key's kid", async (t) => {
  const dir = t.testdir();
  const put = writer(dir);
  const key = loadSigningKey(put("key.pem", ec.privateKey.export({ type: "pkcs8", format: "pem" })));
  const squat = put("jwks.json", jwks(publicJwk(ecPair().publicKey, { kid: key.kid })));
  t.throws(() => new LicenseKeyring({ jwksFile: squat, signingKey: key }), /names a key other than the license signing key/);
  // The same public key listed in the JWKS file is fine.
  const same = put("same.json", jwks(publicJwk(ec.publicKey)));
  t.equal(new LicenseKeyring({ jwksFile: same, signingKey: key }).size, 1);
});

t.test("ensureDevKeys creates keys once and is idempotent", async (t) => {
  const dataDir = t.testdir({});
  const first = ensureDevKeys(dataDir);
  t.equal(first.created, true);
  t.equal(first.signingKeyFile, join(dataDir, "keys", "license-signing-key.pem"));
  t.ok(first.adminSecret.length >= 64, "48 random bytes, base64url");
  t.match(first.adminSecret, /^[A-Za-z0-9_-]+$/);
  t.equal(statSync(first.signingKeyFile).mode & 0o777, 0o600, "signing key is 0600");
  t.equal(statSync(join(dataDir, "keys", "admin-jwt-secret")).mode & 0o777, 0o600, "secret is 0600");
  t.match(readFileSync(first.signingKeyFile, "utf8"), /^-----BEGIN PRIVATE KEY-----/, "PKCS#8");
  const key = loadSigningKey(first.signingKeyFile);
  t.equal(key.alg, "RS256");
  t.equal(key.privateKey.asymmetricKeyDetails?.modulusLength, 2048);

  const pemBefore = readFileSync(first.signingKeyFile, "utf8");
  const second = ensureDevKeys(dataDir);
  t.same(second, { ...first, created: false }, "same paths and secret, nothing created");
  t.equal(readFileSync(first.signingKeyFile, "utf8"), pemBefore, "the key was not replaced");
});
