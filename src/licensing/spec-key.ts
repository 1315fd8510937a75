// The spec key (docs/api.md §11): an Ed25519 key that signs what a poll
// answers (X-Chartroom-Signature) and what a bundle holds (manifest.jws,
// spec.jws), as a JWS compact serialization with a detached payload
// (RFC 7515 appendix F): `base64url(header)..base64url(signature)`, the
// payload being the exact bytes signed. Header: alg EdDSA, kid (the RFC 7638
// thumbprint of the public key, stable across restarts and replicas sharing
// the key), iat (seconds).
//
// Rotation works like the license keys' (docs/decisions.md): one key signs
// (SPEC_SIGNING_KEY_FILE), and SPEC_JWKS_FILE lists further public spec keys
// (the previous one, the next one) that /.well-known/jwks.json publishes
// next to it, so an answer or a bundle signed by the old key stays
// verifiable while its key is listed. The file is re-read on change and on
// SIGHUP, like LICENSE_JWKS_FILE; the signing key only at start.
//
// Everything fails loudly and early, naming the file (and the key index).
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jwkThumbprint, readPrivateKeyPem, watchFileChanges } from "./license-keys.js";

/** Makes the detached JWS of given bytes: what X-Chartroom-Signature carries. */
export interface SpecSigner {
  /** The RFC 7638 thumbprint of the signing key's public half (the JWS header's kid). */
  readonly kid: string;
  /** A compact JWS with detached payload over `payload`: `header..signature` (alg EdDSA, kid, iat). */
  signDetached(payload: Uint8Array): string;
}

/** The Ed25519 key that signs spec answers and bundles. */
export interface SpecKey extends SpecSigner {
  privateKey: KeyObject;
  /** The public half as a JWK with kid, alg EdDSA and use sig (served at /.well-known/jwks.json). */
  publicJwk: Record<string, string>;
}

/** A public spec key that may verify a signature, picked by kid. */
export interface SpecPublicKey {
  kid: string;
  publicKey: KeyObject;
  jwk: Record<string, string>;
}

/** The subset of a pino logger the spec keyring uses. */
export interface SpecKeyLogger {
  info(o: object, m: string): void;
  error(o: object, m: string): void;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] as const;

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The public JWK of an Ed25519 key, with kid, alg and use. */
function publicJwkOf(key: KeyObject): Record<string, string> {
  const jwk = (key.type === "public" ? key : createPublicKey(key)).export({ format: "jwk" });
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(jwk)) if (typeof v === "string") out[k] = v;
  return Object.assign(out, { kid: jwkThumbprint(jwk), alg: "EdDSA", use: "sig" });
}

/**
 * A signer over an Ed25519 private key. `now` (seconds) is the iat clock,
 * for tests. Each call signs: callers sign a serialized spec once and keep
 * the result (src/routes/operator.ts keeps it in the spec's header block).
 */
export function specSigner(privateKey: KeyObject, now: () => number = () => Math.floor(Date.now() / 1000)): SpecKey {
  if (privateKey.type !== "private" || privateKey.asymmetricKeyType !== "ed25519") {
    throw new Error(`the spec key must be an Ed25519 private key, not ${privateKey.type} ${String(privateKey.asymmetricKeyType)}`);
  }
  const publicJwk = publicJwkOf(privateKey);
  const kid = publicJwk.kid!;
  const alg = "EdDSA";
  return {
    kid,
    privateKey,
    publicJwk,
    signDetached(payload: Uint8Array): string {
      const header = Buffer.from(JSON.stringify({ alg, kid, iat: now() })).toString("base64url");
      const input = Buffer.concat([Buffer.from(`${header}.`), Buffer.from(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("base64url"))]);
      return `${header}..${sign(null, input, privateKey).toString("base64url")}`;
    },
  };
}

/** Loads the spec signing key: an unencrypted Ed25519 private key in PEM (PKCS#8). */
export function loadSpecSigningKey(pemPath: string): SpecKey {
  const privateKey = readPrivateKeyPem(pemPath, "spec signing key");
  if (privateKey.asymmetricKeyType !== "ed25519") {
    throw new Error(`spec signing key ${pemPath}: is a ${String(privateKey.asymmetricKeyType)} key; spec answers are signed with Ed25519 (openssl genpkey -algorithm ed25519)`);
  }
  return specSigner(privateKey);
}

/**
 * The development spec key for a server without SPEC_SIGNING_KEY_FILE:
 * `<dataDir>/keys/spec-signing-key.pem` (mode 0600), generated once and
 * kept. Written exclusively and read back, so processes starting together
 * (cluster workers) end up with the same key.
 */
export function ensureDevSpecKey(dataDir: string): { file: string; created: boolean } {
  const dir = join(dataDir, "keys");
  const file = join(dir, "spec-signing-key.pem");
  if (existsSync(file)) return { file, created: false };
  let created = false;
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(file, privateKey.export({ type: "pkcs8", format: "pem" }).toString(), { mode: 0o600, flag: "wx" });
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
      throw new Error(`development spec key ${file}: cannot be written (${errorMessage(err)}); set SPEC_SIGNING_KEY_FILE`);
    }
  }
  return { file, created };
}

/** Checks one JWK of SPEC_JWKS_FILE: a public Ed25519 signing key; throws a reason. */
function specPublicKeyFromJwk(jwk: unknown): SpecPublicKey {
  if (!isRecord(jwk)) throw new Error("is not a JSON object");
  for (const m of PRIVATE_MEMBERS) {
    if (m in jwk) throw new Error(`contains private or symmetric key material ("${m}"); list only public keys`);
  }
  if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") throw new Error(`is not an Ed25519 key (kty OKP, crv Ed25519); spec keys are Ed25519`);
  if (jwk.alg !== undefined && jwk.alg !== "EdDSA") throw new Error(`declares alg ${JSON.stringify(jwk.alg)}; an Ed25519 key means EdDSA`);
  if (jwk.use !== undefined && jwk.use !== "sig") throw new Error(`has use ${JSON.stringify(jwk.use)}; spec keys must be "sig" keys`);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: jwk.x as string }, format: "jwk" });
  } catch (err) {
    throw new Error(`is not a valid public key: ${errorMessage(err)}`);
  }
  const normalized = publicJwkOf(publicKey);
  // The kid is the thumbprint here, as the signer's: a listed key whose kid
  // says otherwise would never match a signature's header.
  if (jwk.kid !== undefined && jwk.kid !== normalized.kid) {
    throw new Error(`has kid ${JSON.stringify(jwk.kid)}, but spec kids are RFC 7638 thumbprints: this key's is ${normalized.kid}`);
  }
  return { kid: normalized.kid!, publicKey, jwk: normalized };
}

/** Reads SPEC_JWKS_FILE (`{"keys": [...]}` of public Ed25519 keys); throws naming the file and the key index. */
export function loadSpecJwksFile(path: string): SpecPublicKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new Error(`spec JWKS file ${path}: cannot be read as JSON: ${errorMessage(err)}`);
  }
  if (!isRecord(doc) || !Array.isArray(doc.keys)) throw new Error(`spec JWKS file ${path}: must be a JSON object with a "keys" array`);
  const seen = new Set<string>();
  return doc.keys.map((jwk: unknown, i: number) => {
    let key: SpecPublicKey;
    try {
      key = specPublicKeyFromJwk(jwk);
    } catch (err) {
      throw new Error(`spec JWKS file ${path}: key #${i} ${errorMessage(err)}`);
    }
    if (seen.has(key.kid)) throw new Error(`spec JWKS file ${path}: key #${i} repeats kid ${key.kid}`);
    seen.add(key.kid);
    return key;
  });
}

export interface SpecKeyringOptions {
  signingKey: SpecKey;
  /** Further public spec keys to publish (SPEC_JWKS_FILE): the previous or the next key. */
  jwksFile?: string | undefined;
  log?: SpecKeyLogger;
}

/** The spec keys this server publishes: the signing key's public half first, then SPEC_JWKS_FILE's. */
export class SpecKeyring {
  readonly signer: SpecKey;
  readonly #jwksFile: string | undefined;
  readonly #log: SpecKeyLogger | undefined;
  #keys: Map<string, SpecPublicKey>;

  /** Throws (naming the file) when SPEC_JWKS_FILE cannot be trusted at start. */
  constructor(opts: SpecKeyringOptions) {
    this.signer = opts.signingKey;
    this.#jwksFile = opts.jwksFile;
    this.#log = opts.log;
    this.#keys = this.#build();
  }

  #build(): Map<string, SpecPublicKey> {
    const own = this.signer;
    const keys = new Map<string, SpecPublicKey>([[own.kid, { kid: own.kid, publicKey: createPublicKey(own.privateKey), jwk: own.publicJwk }]]);
    // The signing key listed in the file too is fine: same key, same kid.
    if (this.#jwksFile !== undefined) for (const k of loadSpecJwksFile(this.#jwksFile)) if (!keys.has(k.kid)) keys.set(k.kid, k);
    return keys;
  }

  /** The public spec key for a kid, if listed. */
  get(kid: string): SpecPublicKey | undefined {
    return this.#keys.get(kid);
  }

  kids(): string[] {
    return [...this.#keys.keys()];
  }

  /** Re-reads SPEC_JWKS_FILE; on a bad file the previous keys stay listed and false is returned. */
  reload(): boolean {
    if (this.#jwksFile === undefined) return true;
    try {
      this.#keys = this.#build();
      this.#log?.info({ file: this.#jwksFile, kids: this.kids() }, "spec keys reloaded");
      return true;
    } catch (err) {
      this.#log?.error({ file: this.#jwksFile, err: errorMessage(err) }, "spec JWKS file could not be reloaded; keeping the previous keys");
      return false;
    }
  }

  /** Re-reads SPEC_JWKS_FILE after each change (polled about once a second, unref'd). Returns a stop function. */
  watch(): () => void {
    const file = this.#jwksFile;
    if (file === undefined) return () => {};
    return watchFileChanges(file, () => this.reload());
  }

  /** The public JWKs published at /.well-known/jwks.json (the signing key first). */
  publicJwks(): Record<string, string>[] {
    return [...this.#keys.values()].map((k) => ({ ...k.jwk }));
  }
}

/** Why a detached JWS did not verify. */
export class SpecSignatureError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SpecSignatureError";
  }
}

/**
 * Verifies a detached compact JWS over `payload` against public keys (a
 * keyring, or a JWKS document's keys); answers the header's kid and iat, or
 * throws SpecSignatureError with the reason. Only alg EdDSA, only keys
 * picked by kid; used where jose is not at hand (the CLI's bundle check).
 */
export function verifyDetached(jws: string, payload: Uint8Array, keys: Pick<SpecKeyring, "get"> | { keys: unknown[] }): { kid: string; iat: number } {
  const parts = jws.split(".");
  if (parts.length !== 3 || parts[1] !== "") throw new SpecSignatureError("is not a compact JWS with a detached payload (header..signature)");
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(parts[0]!, "base64url").toString("utf8"));
  } catch {
    throw new SpecSignatureError("has a protected header that is not base64url JSON");
  }
  if (!isRecord(header)) throw new SpecSignatureError("has a protected header that is not a JSON object");
  if (header.alg !== "EdDSA") throw new SpecSignatureError(`has alg ${JSON.stringify(header.alg)}; only EdDSA is accepted`);
  if (header.crit !== undefined) throw new SpecSignatureError("has a crit header this verifier does not understand");
  if (typeof header.kid !== "string") throw new SpecSignatureError("has no kid");
  if (typeof header.iat !== "number" || !Number.isInteger(header.iat)) throw new SpecSignatureError("has no integer iat");
  let key: KeyObject | undefined;
  if ("get" in keys) key = keys.get(header.kid)?.publicKey;
  else {
    const jwk = keys.keys.find((k) => isRecord(k) && k.kid === header.kid);
    if (jwk !== undefined) {
      try {
        key = specPublicKeyFromJwk(jwk).publicKey;
      } catch (err) {
        throw new SpecSignatureError(`names kid ${header.kid}, whose key ${errorMessage(err)}`);
      }
    }
  }
  if (!key) throw new SpecSignatureError(`names kid ${header.kid}, which is not among the keys`);
  const body = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString("base64url");
  const ok = verify(null, Buffer.from(`${parts[0]}.${body}`), key, Buffer.from(parts[2]!, "base64url"));
  if (!ok) throw new SpecSignatureError(`does not match the content (kid ${header.kid})`);
  return { kid: header.kid, iat: header.iat };
}

