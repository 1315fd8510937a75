// Issue 14's license bullets through the whole app, on SQLite and
// PostgreSQL: whitespace around the JWT in the credentials, a verified
// license served warm for as long as it is valid (revocation still checked
// on every poll), and a JWKS rotation that keeps the fleet warm.
import { randomUUID, type KeyObject } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { eachProvider } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";
import { ecPair, jwt, rsaPair } from "../licensing/fixtures/jwt.js";

const basicOf = (userPass: string) => `Basic ${Buffer.from(userPass, "utf8").toString("base64")}`;

await eachProvider(t, "whitespace around the JWT is ignored, inside it the license is malformed", async (t, provider) => {
  const h = await testApp(t, { provider });
  const token = h.license({ sub: "secret-from-file" });
  const poll = (authorization: string) => h.app.inject({ method: "GET", url: "/api/v1/operator/channel", headers: { authorization } });
  for (const [name, authorization] of [
    ["Basic, a trailing newline (a Secret made with --from-file)", basicOf(`license:${token}\n`)],
    ["Basic, CRLF and spaces", basicOf(`license:  ${token} \r\n`)],
    ["Bearer, spaces and a tab", `Bearer  ${token}\t `],
  ] as const) {
    const res = await poll(authorization);
    t.equal(res.statusCode, 200, `${name}: 200`);
    t.equal(res.json().metadata.channel, "stable");
  }
  for (const [name, authorization] of [
    ["Basic, a newline inside", basicOf(`license:${token.slice(0, 30)}\n${token.slice(30)}`)],
    ["Bearer, a space inside", `Bearer ${token.slice(0, 30)} ${token.slice(30)}`],
  ] as const) {
    const res = await poll(authorization);
    t.equal(res.statusCode, 401, `${name}: 401`);
    t.equal(res.json().code, "LICENSE_MALFORMED");
    t.notOk(res.body.includes(token.slice(30)), "the token is not echoed");
  }
});

await eachProvider(t, "a verified license is served warm on every later poll; revocation is still checked each time", async (t, provider) => {
  const h = await testApp(t, { provider });
  const tokens = Array.from({ length: 30 }, (_, i) => h.license({ sub: `warm-${i}`, jti: `warm-${i}` }));
  for (const tok of tokens) t.equal((await h.poll(tok)).statusCode, 200);
  const cold = h.ctx.verifier.stats();
  for (const tok of tokens) t.equal((await h.poll(tok)).statusCode, 200);
  const warm = h.ctx.verifier.stats();
  t.equal(warm.misses, cold.misses, "the second pass: no signature check");
  t.equal(warm.hits - cold.hits, 30, "30 cache hits");

  const revoke = await h.admin("POST", "/licenses/warm-7/revoke", { reason: "test" });
  t.equal(revoke.statusCode, 200, revoke.body);
  const refused = await h.poll(tokens[7]!);
  t.equal(refused.statusCode, 403, "a cached license, revoked: refused at its next poll");
  t.equal(refused.json().code, "LICENSE_REVOKED");
  t.equal((await h.poll(tokens[8]!)).statusCode, 200, "the others still served");
});

function jwksFile(dir: string, keys: [kid: string, key: KeyObject][]): string {
  const file = join(dir, "jwks.json");
  writeFileSync(file, JSON.stringify({ keys: keys.map(([kid, k]) => ({ ...k.export({ format: "jwk" }), kid })) }));
  return file;
}

await eachProvider(t, "JWKS rotation: adding a key keeps every license warm, removing one refuses exactly its licenses", async (t, provider) => {
  const dir = t.testdir();
  const a = rsaPair();
  const b = ecPair();
  const file = jwksFile(dir, [["vendor-a", a.publicKey]]);
  const h = await testApp(t, { provider, env: { LICENSE_JWKS_FILE: file } });
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const signed = (kid: string, key: KeyObject, alg: "RS256" | "ES256", sub: string) => jwt({ alg, kid, typ: "JWT" }, { sub, exp, jti: randomUUID() }, key, alg);
  const oldTokens = Array.from({ length: 10 }, (_, i) => signed("vendor-a", a.privateKey, "RS256", `a-${i}`));
  for (const tok of oldTokens) t.equal((await h.poll(tok)).statusCode, 200);

  // Step 1 of a rotation: the new key is published next to the old one.
  jwksFile(dir, [["vendor-a", a.publicKey], ["vendor-b", b.publicKey]]);
  t.equal(h.ctx.reloadKeys(), true);
  const before = h.ctx.verifier.stats().misses;
  for (const tok of oldTokens) t.equal((await h.poll(tok)).statusCode, 200);
  t.equal(h.ctx.verifier.stats().misses, before, "still warm after the reload: no license re-verified");
  const newToken = signed("vendor-b", b.privateKey, "ES256", "b-0");
  t.equal((await h.poll(newToken)).statusCode, 200, "the new key verifies");

  // Step 2: the old key is withdrawn. Its licenses are refused at once, the new one stays warm.
  jwksFile(dir, [["vendor-b", b.publicKey]]);
  t.equal(h.ctx.reloadKeys(), true);
  t.equal(h.ctx.verifier.stats().size, 1, "only the new key's license is still cached");
  const gone = await h.poll(oldTokens[0]!);
  t.equal(gone.statusCode, 401);
  t.equal(gone.json().code, "LICENSE_UNKNOWN_KID");
  const misses = h.ctx.verifier.stats().misses;
  t.equal((await h.poll(newToken)).statusCode, 200);
  t.equal(h.ctx.verifier.stats().misses, misses, "the new key's license: a hit");
});
