// Signed spec answers (docs/api.md §11): every poll answer, channel and
// pinned, 200 and 304, routed by fastify or replayed (src/routes/poll-replay.ts),
// carries X-Chartroom-Signature, a detached JWS over the exact body bytes that
// jose verifies with /.well-known/jwks.json; a rotation keeps the old kid
// verifiable while it is listed; one signature per serialized spec.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK } from "jose";
import pino from "pino";
import { loadConfig } from "../../src/config.js";
import { resolveSpecKeys } from "../../src/context.js";
import { loadSigningKey } from "../../src/licensing/license-keys.js";
import { eachProvider, tempDir } from "../helpers/db.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { PATH, basic, completedLines, live } from "../helpers/live-polls.js";
import { joseVerifyDetached } from "../helpers/spec-signature.js";

const PINNED = "/api/v1/operator/channel/release/0.58.1";

function edKeyFile(dir: string, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }));
  return file;
}

async function jwks(h: TestApp): Promise<{ keys: JWK[] }> {
  return (await h.app.inject("/.well-known/jwks.json")).json();
}

/** A poll over a real socket, its body as the exact bytes received. */
async function getBytes(base: string, path: string, headers: Record<string, string>) {
  const res = await fetch(base + path, { headers: { "user-agent": "Go-http-client/1.1", ...headers } });
  return { status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.from(await res.arrayBuffer()) };
}

await eachProvider(t, "channel and pinned answers, 200 and 304, carry a signature jose verifies over the exact body", async (t, provider) => {
  const h = await testApp(t, { provider });
  const keys = await jwks(h);
  const specKid = h.ctx.specKeys.signer.kid;
  t.ok(keys.keys.some((k) => k.kid === specKid), "the spec key is in /.well-known/jwks.json");
  const specJwk = keys.keys.find((k) => k.kid === specKid)!;
  t.equal(await calculateJwkThumbprint(specJwk, "sha256"), specKid, "kid = RFC 7638 thumbprint (jose)");
  t.match(specJwk, { kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
  t.notOk("d" in specJwk, "no private part");

  const token = h.license({ sub: "signed" });
  for (const path of [PATH, PINNED]) {
    const ok = await h.poll(token, path);
    t.equal(ok.statusCode, 200, path);
    const sig = ok.headers["x-chartroom-signature"] as string;
    t.match(sig, /^[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+$/, `${path}: a compact JWS with detached payload`);
    const header = await joseVerifyDetached(sig, ok.rawPayload, keys);
    t.equal(header.alg, "EdDSA");
    t.equal(header.kid, specKid);
    t.type(header.iat, "number", "iat in the protected header");
    t.ok(Math.abs((header.iat as number) - Date.now() / 1000) < 300, "iat is about now");

    const tampered = Buffer.from(ok.rawPayload);
    tampered[tampered.length - 2]! ^= 0x01;
    await t.rejects(joseVerifyDetached(sig, tampered, keys), { code: "ERR_JWS_SIGNATURE_VERIFICATION_FAILED" }, `${path}: a tampered body fails`);

    const notModified = await h.poll(token, path, { "if-none-match": ok.headers.etag as string });
    t.equal(notModified.statusCode, 304);
    t.equal(notModified.headers["x-chartroom-signature"], sig, `${path}: the 304 carries the signature of the body its ETag names`);
    await joseVerifyDetached(notModified.headers["x-chartroom-signature"] as string, ok.rawPayload, keys);
  }
  const channel = await h.poll(token, PATH);
  const pinned = await h.poll(token, PINNED);
  t.not(channel.headers["x-chartroom-signature"], pinned.headers["x-chartroom-signature"], "each body its own signature");
});

t.test("replayed polls (after two identical renderings) carry the route's signature, 200 and 304; anonymous polls too", async (t) => {
  const h = await testApp(t, { env: { OPERATOR_LOG_LEVEL: "info", ANONYMOUS_CHANNEL: "stable" }, captureLogs: true });
  const base = await live(h);
  const keys = await jwks(h);
  const auth = { authorization: basic(h.license({ sub: "replayed-signed" })) };
  const answers = [];
  for (let i = 0; i < 4; i++) answers.push(await getBytes(base, PATH, auth));
  t.same(completedLines(h), [2, 2], "two renderings by fastify, then replayed");
  for (const [i, a] of answers.entries()) {
    t.equal(a.status, 200);
    const header = await joseVerifyDetached(a.headers["x-chartroom-signature"]!, a.body, keys);
    t.equal(header.kid, h.ctx.specKeys.signer.kid, `answer ${i + 1} verifies`);
  }
  const etag = answers[0]!.headers.etag!;
  for (let i = 0; i < 3; i++) {
    const nm = await getBytes(base, PATH, { ...auth, "if-none-match": etag });
    t.equal(nm.status, 304);
    t.equal(nm.body.length, 0);
    await joseVerifyDetached(nm.headers["x-chartroom-signature"]!, answers[0]!.body, keys);
  }
  t.same(completedLines(h), [4, 3], "the third 304 was replayed, signature and all");

  const anonymous = [];
  for (let i = 0; i < 3; i++) anonymous.push(await getBytes(base, PATH, {}));
  t.same(completedLines(h), [6, 4], "anonymous polls replayed too");
  for (const a of anonymous) {
    t.equal(a.status, 200);
    await joseVerifyDetached(a.headers["x-chartroom-signature"]!, a.body, keys);
  }

  // Pinned polls are always routed; over a socket their bytes verify too.
  const pinned = await getBytes(base, PINNED, auth);
  t.equal(pinned.status, 200);
  await joseVerifyDetached(pinned.headers["x-chartroom-signature"]!, pinned.body, keys);
});

t.test("signed once per serialized spec, never per poll", async (t) => {
  const h = await testApp(t);
  const signer = h.ctx.specKeys.signer;
  const real = signer.signDetached.bind(signer);
  const signed: Buffer[] = [];
  signer.signDetached = (payload) => {
    signed.push(Buffer.from(payload));
    return real(payload);
  };
  const base = await live(h);
  const tokens = [h.license({ sub: "a" }), h.license({ sub: "b" })];
  const sigs = new Set<string>();
  let etag = "";
  for (let i = 0; i < 6; i++) {
    const a = await getBytes(base, PATH, { authorization: basic(tokens[i % 2]!) });
    etag = a.headers.etag!;
    sigs.add(a.headers["x-chartroom-signature"]!);
    sigs.add((await getBytes(base, PATH, { authorization: basic(tokens[i % 2]!), "if-none-match": etag })).headers["x-chartroom-signature"]!);
  }
  t.equal(signed.length, 1, "twelve polls by two licensees sharing a spec, routed and replayed, 200 and 304: one signature");
  t.equal(sigs.size, 1, "the same header on every answer");
  const spec = h.ctx.specs.cachedChannelSpec("stable", "a")!;
  t.same(signed[0], spec.body, "made over the serialized spec's body");

  for (let i = 0; i < 3; i++) await h.poll(tokens[0]!, PINNED);
  t.equal(signed.length, 2, "a pinned spec: one more, once");

  h.ctx.specs.invalidate();
  const again = await getBytes(base, PATH, { authorization: basic(tokens[0]!) });
  t.equal(again.status, 200);
  t.equal(signed.length, 2, "the same bytes serialized again after an invalidation: not signed again");
  t.equal(again.headers["x-chartroom-signature"], [...sigs][0], "the same signature (found by the ETag)");
  t.equal((await h.admin("PATCH", "/channels/stable", { defaultValues: { signedAgain: true } })).statusCode, 200);
  const after = await getBytes(base, PATH, { authorization: basic(tokens[0]!) });
  t.equal(after.status, 200);
  t.equal(signed.length, 3, "a changed spec is signed again");
  await joseVerifyDetached(after.headers["x-chartroom-signature"]!, after.body, await jwks(h));
});

t.test("rotation: the new key signs, the old kid stays listed and verifiable through SPEC_JWKS_FILE until removed", async (t) => {
  const dir = tempDir(t);
  const oldFile = edKeyFile(dir, "spec-old.pem");
  const newFile = edKeyFile(dir, "spec-new.pem");

  const before = await testApp(t, { env: { SPEC_SIGNING_KEY_FILE: oldFile } });
  const token = before.license({ sub: "rotated" });
  const oldAnswer = await before.poll(token);
  const oldKid = before.ctx.specKeys.signer.kid;
  const oldJwks = await jwks(before);
  t.equal((await joseVerifyDetached(oldAnswer.headers["x-chartroom-signature"] as string, oldAnswer.rawPayload, oldJwks)).kid, oldKid);

  // The rotated server: the new key signs, the old one's public half is listed.
  const specJwks = join(dir, "spec-jwks.json");
  writeFileSync(specJwks, JSON.stringify({ keys: oldJwks.keys.filter((k) => k.kid === oldKid) }));
  const after = await testApp(t, { databaseUrl: before.url, seed: false, env: { SPEC_SIGNING_KEY_FILE: newFile, SPEC_JWKS_FILE: specJwks } });
  const newKid = after.ctx.specKeys.signer.kid;
  t.not(newKid, oldKid);
  const listed = await jwks(after);
  const specKids = listed.keys.map((k) => k.kid).filter((k) => k === oldKid || k === newKid);
  t.same(specKids, [newKid, oldKid], "both listed, the signing key first");

  const newToken = after.license({ sub: "rotated" });
  const newAnswer = await after.poll(newToken);
  t.same(newAnswer.rawPayload, oldAnswer.rawPayload, "the same spec, the same bytes");
  t.equal((await joseVerifyDetached(newAnswer.headers["x-chartroom-signature"] as string, newAnswer.rawPayload, listed)).kid, newKid, "signed by the new key");
  t.equal((await joseVerifyDetached(oldAnswer.headers["x-chartroom-signature"] as string, oldAnswer.rawPayload, listed)).kid, oldKid, "the old signature still verifies against the new JWKS");
  const nm = await after.poll(newToken, PATH, { "if-none-match": oldAnswer.headers.etag as string });
  t.equal(nm.statusCode, 304, "the old ETag still names this body");
  t.equal((await joseVerifyDetached(nm.headers["x-chartroom-signature"] as string, oldAnswer.rawPayload, listed)).kid, newKid, "its 304 carries the new key's signature of that body");

  // The old key retired: removed from the file, reloaded (what SIGHUP and the watcher do).
  writeFileSync(specJwks, JSON.stringify({ keys: [] }));
  t.equal(after.ctx.reloadKeys(), true);
  const retired = await jwks(after);
  t.notOk(retired.keys.some((k) => k.kid === oldKid), "the old kid is no longer published");
  await t.rejects(joseVerifyDetached(oldAnswer.headers["x-chartroom-signature"] as string, oldAnswer.rawPayload, retired), { code: "ERR_JWKS_NO_MATCHING_KEY" }, "and no longer verifies");
  await joseVerifyDetached(newAnswer.headers["x-chartroom-signature"] as string, newAnswer.rawPayload, retired);

  writeFileSync(specJwks, "{not json");
  t.equal(after.ctx.reloadKeys(), false, "a broken SPEC_JWKS_FILE is refused on reload");
  t.same((await jwks(after)).keys.map((k) => k.kid), retired.keys.map((k) => k.kid), "and the previous keys stay");
});

t.test("without SPEC_SIGNING_KEY_FILE a development key is generated under DATA_DIR/keys and announced", async (t) => {
  const h = await testApp(t, { captureLogs: true });
  const file = join(h.dataDir, "keys", "spec-signing-key.pem");
  t.equal(statSync(file).mode & 0o777, 0o600);
  t.match(readFileSync(file, "utf8"), /^-----BEGIN PRIVATE KEY-----/, "PKCS#8 PEM");
  const warned = h.logs.map((l) => JSON.parse(l) as { level: number; msg: string; key?: string }).find((l) => l.msg.startsWith("DEVELOPMENT SPEC KEY IN USE"));
  t.equal(warned?.level, 40, "a warning");
  t.equal(warned?.key, file, "naming the file");
  const answer = await h.poll(h.license());
  t.same(decodeProtectedHeader(answer.headers["x-chartroom-signature"] as string).kid, h.ctx.specKeys.signer.kid);
});

t.test("start-up refuses a spec key that cannot sign, naming the file", async (t) => {
  const dir = tempDir(t);
  const log = pino({ level: "silent" });
  const ec = join(dir, "ec.pem");
  writeFileSync(ec, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }));
  t.throws(() => resolveSpecKeys(loadConfig({ DATA_DIR: dir, SPEC_SIGNING_KEY_FILE: ec }), log), { message: /spec signing key .*ec\.pem: is a ec key/ });
  const shared = edKeyFile(dir, "shared.pem");
  t.throws(
    () => resolveSpecKeys(loadConfig({ DATA_DIR: dir, SPEC_SIGNING_KEY_FILE: shared }), log, loadSigningKey(shared)),
    { message: /shared\.pem: is the license signing key; give spec answers a key of their own/ },
  );
  const badJwks = join(dir, "jwks.json");
  writeFileSync(badJwks, JSON.stringify({ keys: [{ kty: "RSA", n: "x", e: "AQAB" }] }));
  t.throws(() => resolveSpecKeys(loadConfig({ DATA_DIR: dir, SPEC_SIGNING_KEY_FILE: shared, SPEC_JWKS_FILE: badJwks }), log), { message: /spec JWKS file .*jwks\.json: key #0 is not an Ed25519 key/ });
});
