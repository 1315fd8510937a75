// The spec key (src/licensing/spec-key.ts): detached JWS made with node:crypto,
// checked with jose, an independent implementation of RFC 7515.
import t from "tap";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from "jose";
import {
  ensureDevSpecKey,
  loadSpecJwksFile,
  loadSpecSigningKey,
  SpecKeyring,
  specSigner,
  verifyDetached,
} from "../../src/licensing/spec-key.js";
import { joseVerifyDetached } from "../helpers/spec-signature.js";
import { eventually } from "../helpers/eventually.js";

const dir = mkdtempSync(join(tmpdir(), "chartroom-spec-key-"));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));

function pemFile(name: string, type: "ed25519" | "ec" = "ed25519"): string {
  const file = join(dir, name);
  const { privateKey } = type === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : generateKeyPairSync("ed25519");
  writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }));
  return file;
}

t.test("signDetached: a compact JWS with detached payload that jose verifies; kid is the RFC 7638 thumbprint, iat present", async (t) => {
  const key = loadSpecSigningKey(pemFile("a.pem"));
  const body = Buffer.from('{"chart":{"path":"x"},"metadata":{},"values":{"é":"ü"}}');
  const jws = key.signDetached(body);
  t.match(jws, /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/, "header..signature");
  const header = await joseVerifyDetached(jws, body, [key.publicJwk as JWK]);
  t.equal(header.alg, "EdDSA");
  t.equal(header.kid, await calculateJwkThumbprint(key.publicJwk as JWK, "sha256"), "kid = RFC 7638 thumbprint (jose)");
  t.equal(key.kid, header.kid);
  t.type(header.iat, "number");
  t.ok(Math.abs((header.iat as number) - Date.now() / 1000) < 60, "iat is now");
  t.same(Object.keys(decodeProtectedHeader(jws)).sort(), ["alg", "iat", "kid"]);
  t.same(verifyDetached(jws, body, { keys: [key.publicJwk] }), { kid: key.kid, iat: header.iat }, "our own verifier agrees");

  const tampered = Buffer.from(body);
  tampered[3]! ^= 1;
  await t.rejects(joseVerifyDetached(jws, tampered, [key.publicJwk as JWK]), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" }, "a changed byte fails (jose)");
  t.throws(() => verifyDetached(jws, tampered, { keys: [key.publicJwk] }), { name: "SpecSignatureError", message: /does not match the content/ });
  const other = loadSpecSigningKey(pemFile("b.pem"));
  await t.rejects(joseVerifyDetached(jws, body, [other.publicJwk as JWK]), "another key does not verify it");
  t.throws(() => verifyDetached(jws, body, { keys: [other.publicJwk] }), { message: /not among the keys/ });
});

t.test("signDetached signs a Uint8Array view at its offset, and empty bytes", async (t) => {
  const key = specSigner(generateKeyPairSync("ed25519").privateKey, () => 1_700_000_000);
  const backing = Buffer.from("xx{\"a\":1}yy");
  const view = new Uint8Array(backing.buffer, backing.byteOffset + 2, 7);
  const jws = key.signDetached(view);
  const header = await joseVerifyDetached(jws, Buffer.from('{"a":1}'), [key.publicJwk as JWK]);
  t.equal(header.iat, 1_700_000_000, "iat from the clock");
  await joseVerifyDetached(key.signDetached(new Uint8Array()), new Uint8Array(), [key.publicJwk as JWK]);
});

t.test("loadSpecSigningKey refuses what is not an Ed25519 PEM private key, naming the file", async (t) => {
  t.throws(() => loadSpecSigningKey(join(dir, "missing.pem")), { message: /spec signing key .*missing\.pem: cannot be read/ });
  const junk = join(dir, "junk.pem");
  writeFileSync(junk, "not a key");
  t.throws(() => loadSpecSigningKey(junk), { message: /junk\.pem: is not an unencrypted PEM private key/ });
  t.throws(() => loadSpecSigningKey(pemFile("ec.pem", "ec")), { message: /ec\.pem: is a ec key; spec answers are signed with Ed25519/ });
});

t.test("ensureDevSpecKey: generated once under DATA_DIR/keys, mode 0600, then kept", async (t) => {
  const data = join(dir, "data");
  const first = ensureDevSpecKey(data);
  t.equal(first.file, join(data, "keys", "spec-signing-key.pem"));
  t.equal(first.created, true);
  t.equal(statSync(first.file).mode & 0o777, 0o600);
  const pem = readFileSync(first.file, "utf8");
  const again = ensureDevSpecKey(data);
  t.equal(again.created, false);
  t.equal(readFileSync(again.file, "utf8"), pem, "kept");
  t.equal(loadSpecSigningKey(first.file).kid, loadSpecSigningKey(again.file).kid);
});

t.test("SPEC_JWKS_FILE: public Ed25519 keys only, kid = thumbprint, named by index", async (t) => {
  const old = loadSpecSigningKey(pemFile("old.pem"));
  const file = join(dir, "spec-jwks.json");
  const write = (keys: unknown[]) => writeFileSync(file, JSON.stringify({ keys }));
  const { kid: _kid, ...noKid } = old.publicJwk;
  write([noKid]);
  t.same(loadSpecJwksFile(file).map((k) => k.kid), [old.kid], "a kid-less key gets its thumbprint");
  const cases: [string, unknown[], RegExp][] = [
    ["private", [{ ...old.privateKey.export({ format: "jwk" }) }], /key #0 contains private or symmetric key material \("d"\)/],
    ["EC", [generateKeyPairSync("ec", { namedCurve: "P-256" }).publicKey.export({ format: "jwk" })], /key #0 is not an Ed25519 key/],
    ["wrong kid", [{ ...old.publicJwk, kid: "mine" }], /key #0 has kid "mine", but spec kids are RFC 7638 thumbprints/],
    ["repeated", [old.publicJwk, noKid], /key #1 repeats kid/],
    ["alg", [{ ...old.publicJwk, alg: "ES256" }], /key #0 declares alg "ES256"/],
    ["not an object", [7], /key #0 is not a JSON object/],
  ];
  for (const [name, keys, message] of cases) {
    write(keys);
    t.throws(() => loadSpecJwksFile(file), { message }, name);
  }
  writeFileSync(file, "{");
  t.throws(() => loadSpecJwksFile(file), { message: /spec JWKS file .*: cannot be read as JSON/ });
  writeFileSync(file, "{}");
  t.throws(() => loadSpecJwksFile(file), { message: /must be a JSON object with a "keys" array/ });
});

t.test("rotation: the new key signs, the old one stays listed and verifiable until removed", async (t) => {
  const oldKey = loadSpecSigningKey(pemFile("rot-old.pem"));
  const newKey = loadSpecSigningKey(pemFile("rot-new.pem"));
  const body = Buffer.from('{"v":1}');
  const oldJws = oldKey.signDetached(body);

  const file = join(dir, "rot-jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [oldKey.publicJwk] }));
  const errors: string[] = [];
  const ring = new SpecKeyring({ signingKey: newKey, jwksFile: file, log: { info: () => {}, error: (_o, m) => void errors.push(m) } });
  t.same(ring.kids(), [newKey.kid, oldKey.kid], "the signing key first, then the listed one");
  const published = ring.publicJwks();
  t.same(published.map((k) => k.kid), [newKey.kid, oldKey.kid]);
  for (const k of published) t.notOk("d" in k, "public only");
  t.equal((await joseVerifyDetached(oldJws, body, published as JWK[])).kid, oldKey.kid, "the old kid still verifies (jose)");
  t.equal((await joseVerifyDetached(newKey.signDetached(body), body, published as JWK[])).kid, newKey.kid);
  t.equal(verifyDetached(oldJws, body, ring).kid, oldKey.kid, "and with the keyring");

  writeFileSync(file, "{broken");
  t.equal(ring.reload(), false, "a broken file is refused");
  t.same(ring.kids(), [newKey.kid, oldKey.kid], "the previous keys stay");
  t.same(errors, ["spec JWKS file could not be reloaded; keeping the previous keys"]);

  writeFileSync(file, JSON.stringify({ keys: [] }));
  t.equal(ring.reload(), true);
  t.same(ring.kids(), [newKey.kid], "removed: the old kid is no longer published");
  await t.rejects(joseVerifyDetached(oldJws, body, ring.publicJwks() as JWK[]), { code: "ERR_JWKS_NO_MATCHING_KEY" });
  t.throws(() => verifyDetached(oldJws, body, ring), { message: /not among the keys/ });
});

t.test("watch: a changed SPEC_JWKS_FILE is published within a few seconds, without SIGHUP", async (t) => {
  const signing = loadSpecSigningKey(pemFile("watch-signing.pem"));
  const next = loadSpecSigningKey(pemFile("watch-next.pem"));
  const file = join(dir, "watch-jwks.json");
  writeFileSync(file, JSON.stringify({ keys: [] }));
  const ring = new SpecKeyring({ signingKey: signing, jwksFile: file });
  const stop = ring.watch();
  t.teardown(stop);
  t.same(ring.kids(), [signing.kid]);
  const changed = performance.now();
  writeFileSync(file, JSON.stringify({ keys: [next.publicJwk] }));
  const seen = await eventually(() => ring.kids().includes(next.kid), { within: 5000, every: 100, from: changed });
  t.ok(seen.ok, `the next key is listed: ${seen.summary}`);
});

t.test("verifyDetached refuses other shapes and algorithms", async (t) => {
  const key = specSigner(generateKeyPairSync("ed25519").privateKey);
  const body = Buffer.from("x");
  const jws = key.signDetached(body);
  const [h, , s] = jws.split(".");
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const cases: [string, string, RegExp][] = [
    ["attached payload", `${h}.eA.${s}`, /not a compact JWS with a detached payload/],
    ["two parts", `${h}.${s}`, /not a compact JWS/],
    ["alg none", `${b64({ alg: "none", kid: key.kid, iat: 1 })}..${s}`, /alg "none"/],
    ["HS256", `${b64({ alg: "HS256", kid: key.kid, iat: 1 })}..${s}`, /alg "HS256"/],
    ["no kid", `${b64({ alg: "EdDSA", iat: 1 })}..${s}`, /has no kid/],
    ["no iat", `${b64({ alg: "EdDSA", kid: key.kid })}..${s}`, /no integer iat/],
    ["crit", `${b64({ alg: "EdDSA", kid: key.kid, iat: 1, crit: ["b64"], b64: false })}..${s}`, /crit/],
    ["changed header", `${b64({ alg: "EdDSA", kid: key.kid, iat: 2 })}..${s}`, /does not match/],
    ["junk header", `!!..${s}`, /not base64url JSON/],
  ];
  for (const [name, bad, message] of cases) t.throws(() => verifyDetached(bad, body, { keys: [key.publicJwk] }), { name: "SpecSignatureError", message }, name);
});
