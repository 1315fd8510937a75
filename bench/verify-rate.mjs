// In-process RS256 verification rates, single thread, over the same distinct
// licenses the cold-path run uses (bench/run.mjs runs this pinned to the
// server's CPU). Three levels, each for about BENCH_VERIFY_SECONDS:
//   crypto    node:crypto verify of the signature only (the raw RSA cost)
//   fastjwt   fast-jwt createVerifier as Chartroom configures it (signature,
//             JSON decode, registered claims; cache off) — the reference of
//             the cold-path target
//   chartroom Chartroom's LicenseVerifier.verify (dist/): header checks, key
//             lookup, fast-jwt, claim rules, cache insert
// usage: node bench/verify-rate.mjs <key.pem> <tokens.txt> <seconds>
import { createPublicKey, verify as cryptoVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { createVerifier } from "fast-jwt";
import { LicenseKeyring, loadSigningKey } from "../dist/licensing/license-keys.js";
import { LicenseVerifier } from "../dist/licensing/verify-license.js";

const [keyFile, tokensFile, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg) || 3;
const tokens = readFileSync(tokensFile, "utf8").split("\n").filter(Boolean);
const signingKey = loadSigningKey(keyFile);
const publicKey = createPublicKey(signingKey.privateKey);
const pem = publicKey.export({ type: "spki", format: "pem" }).toString();

function rate(name, fn) {
  // a short warm-up on the last tokens, then distinct tokens from the start
  for (let i = tokens.length - 200; i < tokens.length; i++) fn(tokens[i]);
  const limit = tokens.length - 200;
  let n = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (n < limit) {
    fn(tokens[n]);
    n++;
    if ((n & 63) === 0 && performance.now() >= end) break;
  }
  const s = (performance.now() - t0) / 1000;
  return { name, verifications: n, seconds: s, perSecond: n / s };
}

const results = {};
results.crypto = rate("crypto", (t) => {
  const dot = t.lastIndexOf(".");
  const ok = cryptoVerify("sha256", Buffer.from(t.slice(0, dot)), publicKey, Buffer.from(t.slice(dot + 1), "base64url"));
  if (!ok) throw new Error("bad signature");
});
const fast = createVerifier({ key: pem, algorithms: ["RS256"], requiredClaims: ["exp", "sub"], clockTolerance: 60_000, cache: false });
results.fastjwt = rate("fastjwt", (t) => fast(t));
const verifier = new LicenseVerifier({ keyring: new LicenseKeyring({ signingKey }), defaultChannel: "stable", cacheSize: tokens.length + 1000 });
results.chartroom = rate("chartroom", (t) => verifier.verify(t));
process.stdout.write(JSON.stringify(results) + "\n");
