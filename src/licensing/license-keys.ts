// Keys for license JWTs: the JWKS file of trusted public keys (the vendor's
// license authority), this server's own signing key (for licenses it issues
// itself), development keys, and the keyring that the verifier consults.
//
// Everything here fails loudly and early: a key file that cannot be trusted
// entirely is refused with a message naming the file and the key index, so an
// operator never runs with a half-understood key set.
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync, type Stats } from "node:fs";
import { join } from "node:path";

/** The only algorithms a license may be signed with (docs/api.md §2). */
export type LicenseAlg = "RS256" | "ES256" | "EdDSA";

/** A public key that may verify licenses, picked by the token header's `kid`. */
export interface TrustedKey {
  kid: string;
  alg: LicenseAlg;
  publicKey: KeyObject;
}

/** This server's own license-issuing key. */
export interface SigningKey {
  kid: string;
  alg: LicenseAlg;
  privateKey: KeyObject;
  /** The public half as a JWK, with `kid`, `alg` and `use: "sig"` (served at /.well-known/jwks.json). */
  publicJwk: Record<string, string>;
}

/** The subset of a pino logger the keyring uses. */
export interface KeyringLogger {
  info(o: object, m: string): void;
  warn(o: object, m: string): void;
  error(o: object, m: string): void;
}

const MIN_RSA_BITS = 2048;

// JWK members that only a private (or symmetric) key carries. `d` is the
// private exponent / scalar for RSA, EC and OKP; the others are RSA CRT values.
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth"] as const;

// RFC 7638 §3.2: the required members of each key type, in lexicographic order.
const THUMBPRINT_MEMBERS: Record<string, readonly string[]> = {
  RSA: ["e", "kty", "n"],
  EC: ["crv", "kty", "x", "y"],
  OKP: ["crv", "kty", "x"],
  oct: ["k", "kty"],
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * RFC 7638 JWK thumbprint: base64url(SHA-256(JSON of the required members,
 * sorted, no whitespace)). Throws for an unknown `kty` or a missing member.
 */
export function jwkThumbprint(jwk: Readonly<Record<string, unknown>> | JsonWebKey): string {
  const rec = jwk as Record<string, unknown>;
  const kty = rec.kty;
  const members = typeof kty === "string" ? THUMBPRINT_MEMBERS[kty] : undefined;
  if (!members) throw new Error(`cannot compute a JWK thumbprint for kty ${JSON.stringify(kty)}`);
  const canonical: Record<string, string> = {};
  for (const m of members) {
    const v = rec[m];
    if (typeof v !== "string" || v === "") throw new Error(`cannot compute a JWK thumbprint: member "${m}" is missing`);
    canonical[m] = v;
  }
  // JSON.stringify keeps insertion order, and `members` is already sorted.
  return createHash("sha256").update(JSON.stringify(canonical)).digest("base64url");
}

/** Infers the license algorithm of a public JWK, or throws a reason (without file context). */
function algOfJwk(jwk: Record<string, unknown>): LicenseAlg {
  switch (jwk.kty) {
    case "RSA":
      return "RS256";
    case "EC":
      if (jwk.crv !== "P-256") throw new Error(`EC curve ${JSON.stringify(jwk.crv)} is not supported (only P-256, for ES256)`);
      return "ES256";
    case "OKP":
      if (jwk.crv !== "Ed25519") throw new Error(`OKP curve ${JSON.stringify(jwk.crv)} is not supported (only Ed25519, for EdDSA)`);
      return "EdDSA";
    default:
      throw new Error(`key type ${JSON.stringify(jwk.kty)} is not supported (RSA, EC P-256 or OKP Ed25519)`);
  }
}

/** Checks one JWK of a JWKS file and turns it into a trusted key; throws a reason. */
function trustedKeyFromJwk(jwk: unknown): TrustedKey {
  if (!isRecord(jwk)) throw new Error("is not a JSON object");
  // Symmetric keys first: an HMAC secret in the trust set is the classic
  // algorithm-confusion foothold, so it is refused however it is labelled.
  if (jwk.kty === "oct" || "k" in jwk) throw new Error("is a symmetric (oct) key; only public RSA, EC and OKP keys may verify licenses");
  for (const m of PRIVATE_MEMBERS) {
    if (m in jwk) throw new Error(`contains private key material ("${m}"); publish only the public key`);
  }
  const alg = algOfJwk(jwk);
  if (jwk.alg !== undefined && jwk.alg !== alg) {
    throw new Error(`declares alg ${JSON.stringify(jwk.alg)} but a ${String(jwk.kty)} key means ${alg}`);
  }
  if (jwk.use !== undefined && jwk.use !== "sig") throw new Error(`has use ${JSON.stringify(jwk.use)}; license keys must be "sig" keys`);
  if (jwk.kid !== undefined && (typeof jwk.kid !== "string" || jwk.kid === "")) throw new Error("has a kid that is not a non-empty string");

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
  } catch (err) {
    throw new Error(`is not a valid public key: ${errorMessage(err)}`);
  }
  if (alg === "RS256") {
    const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new Error(`is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
  }
  const kid = typeof jwk.kid === "string" ? jwk.kid : jwkThumbprint(jwk);
  return { kid, alg, publicKey };
}

/**
 * Reads a JWKS file (`{"keys": [...]}`) of license-verifying public keys.
 * Throws an Error naming the file (and the key index) for anything it cannot
 * trust: unreadable file, bad JSON, symmetric or private keys, unsupported
 * key types, an `alg` that contradicts the key, weak RSA, duplicate kids.
 */
export function loadJwksFile(path: string): TrustedKey[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`JWKS file ${path}: cannot be read: ${errorMessage(err)}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new Error(`JWKS file ${path}: is not valid JSON: ${errorMessage(err)}`);
  }
  if (!isRecord(doc) || !Array.isArray(doc.keys)) {
    throw new Error(`JWKS file ${path}: must be a JSON object with a "keys" array`);
  }
  const keys: TrustedKey[] = [];
  const seen = new Set<string>();
  doc.keys.forEach((jwk: unknown, i: number) => {
    let key: TrustedKey;
    try {
      key = trustedKeyFromJwk(jwk);
    } catch (err) {
      throw new Error(`JWKS file ${path}: key #${i} ${errorMessage(err)}`);
    }
    // Two keys under one kid would make the choice of key ambiguous.
    if (seen.has(key.kid)) throw new Error(`JWKS file ${path}: key #${i} repeats kid ${JSON.stringify(key.kid)}`);
    seen.add(key.kid);
    keys.push(key);
  });
  return keys;
}

/** An unencrypted PEM private key from a file; `what` names it in the errors ("license signing key"). */
export function readPrivateKeyPem(pemPath: string, what: string): KeyObject {
  let pem: string;
  try {
    pem = readFileSync(pemPath, "utf8");
  } catch (err) {
    throw new Error(`${what} ${pemPath}: cannot be read: ${errorMessage(err)}`);
  }
  try {
    return createPrivateKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new Error(`${what} ${pemPath}: is not an unencrypted PEM private key: ${errorMessage(err)}`);
  }
}

/**
 * Loads this server's license signing key from a PEM file (PKCS#8, or the
 * traditional PKCS#1 / SEC1 forms). RSA (≥ 2048 bits) signs RS256, EC P-256
 * ES256, Ed25519 EdDSA. The kid is the RFC 7638 thumbprint of the public key,
 * so it is stable across restarts and replicas sharing the key.
 */
export function loadSigningKey(pemPath: string): SigningKey {
  const privateKey = readPrivateKeyPem(pemPath, "license signing key");
  let alg: LicenseAlg;
  const type = privateKey.asymmetricKeyType;
  const details = privateKey.asymmetricKeyDetails;
  if (type === "rsa") {
    const bits = details?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new Error(`license signing key ${pemPath}: is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are required`);
    alg = "RS256";
  } else if (type === "ec" && details?.namedCurve === "prime256v1") {
    alg = "ES256";
  } else if (type === "ed25519") {
    alg = "EdDSA";
  } else {
    const what = type === "ec" ? `EC ${details?.namedCurve ?? "?"}` : String(type);
    throw new Error(`license signing key ${pemPath}: key type ${what} is not supported (RSA, EC P-256 or Ed25519)`);
  }
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  const kid = jwkThumbprint(jwk);
  const publicJwk: Record<string, string> = {};
  for (const [k, v] of Object.entries(jwk)) if (typeof v === "string") publicJwk[k] = v;
  Object.assign(publicJwk, { kid, alg, use: "sig" });
  return { kid, alg, privateKey, publicJwk };
}

/** Writes `content` to `file` with mode 0600 unless the file exists (no clobbering, race-safe). */
function writeIfMissing(file: string, content: string): boolean {
  try {
    writeFileSync(file, content, { mode: 0o600, flag: "wx" });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
}

/** The development keys' files under `<dataDir>/keys` (ensureDevKeys writes them, the CLI reads them). */
export const DEV_KEY_FILES = { signingKey: "license-signing-key.pem", adminSecret: "admin-jwt-secret" } as const;

/**
 * The development keys a server made under `<dataDir>/keys`, or undefined
 * when either file is missing. Creates nothing: what the CLI signs with
 * must be what a server verifies with.
 */
export function findDevKeys(dataDir: string): { dir: string; signingKeyFile: string; adminSecret: string } | undefined {
  const dir = join(dataDir, "keys");
  const signingKeyFile = join(dir, DEV_KEY_FILES.signingKey);
  const secretFile = join(dir, DEV_KEY_FILES.adminSecret);
  if (!existsSync(signingKeyFile) || !existsSync(secretFile)) return undefined;
  const adminSecret = readFileSync(secretFile, "utf8").trim();
  if (adminSecret.length < 32) throw new Error(`admin JWT secret ${secretFile}: is shorter than 32 characters`);
  return { dir, signingKeyFile, adminSecret };
}

/**
 * Development keys for the embedded default (no keys configured): an RSA 2048
 * license signing key and an admin JWT secret under `<dataDir>/keys`, both
 * mode 0600. Existing files are kept, so this is idempotent.
 */
export function ensureDevKeys(dataDir: string): { signingKeyFile: string; adminSecret: string; created: boolean } {
  const dir = join(dataDir, "keys");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const signingKeyFile = join(dir, DEV_KEY_FILES.signingKey);
  const secretFile = join(dir, DEV_KEY_FILES.adminSecret);

  let created = false;
  if (!existsSync(signingKeyFile)) {
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    created = writeIfMissing(signingKeyFile, pem) || created;
  }
  if (!existsSync(secretFile)) {
    created = writeIfMissing(secretFile, randomBytes(48).toString("base64url") + "\n") || created;
  }
  const adminSecret = readFileSync(secretFile, "utf8").trim();
  if (adminSecret.length < 32) throw new Error(`admin JWT secret ${secretFile}: is shorter than 32 characters`);
  return { signingKeyFile, adminSecret, created };
}

export interface LicenseKeyringOptions {
  /** JWKS file of the license authority's public keys (LICENSE_JWKS_FILE). */
  jwksFile?: string;
  /** This server's own signing key; its public half is trusted too. */
  signingKey?: SigningKey;
  log?: KeyringLogger;
}

/**
 * The set of keys that may verify licenses: the JWKS file's keys plus the
 * public half of this server's signing key. A kid is an opaque Map key,
 * never a path or URL; nothing is ever fetched from a token's header.
 */
export class LicenseKeyring {
  readonly #jwksFile: string | undefined;
  readonly #signingKey: SigningKey | undefined;
  readonly #signingTrusted: TrustedKey | undefined;
  readonly #log: KeyringLogger | undefined;
  #keys: Map<string, TrustedKey>;

  /** Throws (naming the file) when the JWKS file cannot be trusted at startup. */
  constructor(opts: LicenseKeyringOptions = {}) {
    this.#jwksFile = opts.jwksFile;
    this.#signingKey = opts.signingKey;
    this.#log = opts.log;
    if (opts.signingKey) {
      const { kid, alg, privateKey } = opts.signingKey;
      this.#signingTrusted = { kid, alg, publicKey: createPublicKey(privateKey) };
    }
    this.#keys = this.#build();
  }

  /** Reads the JWKS file (if any) and merges in the signing key; throws on a bad file. */
  #build(): Map<string, TrustedKey> {
    const keys = new Map<string, TrustedKey>();
    if (this.#jwksFile !== undefined) {
      for (const k of loadJwksFile(this.#jwksFile)) keys.set(k.kid, k);
    }
    const own = this.#signingTrusted;
    if (own) {
      const clash = keys.get(own.kid);
      // The same public key listed in the JWKS file is fine (it has the same
      // thumbprint kid); a different key under our kid would be ambiguous.
      if (clash && !(clash.alg === own.alg && clash.publicKey.equals(own.publicKey))) {
        throw new Error(`JWKS file ${this.#jwksFile}: kid ${JSON.stringify(own.kid)} names a key other than the license signing key`);
      }
      if (!clash) keys.set(own.kid, own);
    }
    return keys;
  }

  /** The trusted key for a kid, if any. */
  get(kid: string): TrustedKey | undefined {
    return this.#keys.get(kid);
  }

  /** How many keys are trusted. */
  get size(): number {
    return this.#keys.size;
  }

  /** The trusted kids (for logs and diagnostics). */
  kids(): string[] {
    return [...this.#keys.keys()];
  }

  /**
   * Re-reads the JWKS file. On success the new key set replaces the old one
   * entirely (a removed key stops verifying) and true is returned; on a bad
   * file the previous keys stay in force, the error is logged and false is
   * returned.
   */
  reload(): boolean {
    try {
      const keys = this.#build();
      this.#keys = keys;
      this.#log?.info({ file: this.#jwksFile, kids: [...keys.keys()] }, "license keys reloaded");
      return true;
    } catch (err) {
      this.#log?.error(
        { file: this.#jwksFile, err: errorMessage(err) },
        "license JWKS file could not be reloaded; keeping the previous keys",
      );
      return false;
    }
  }

  /**
   * Watches the JWKS file (polling about once a second, without keeping the
   * process alive) and, after each change that reloads successfully, calls
   * `onChange` (the verifier's LicenseVerifier.retainTrustedKeys, which drops
   * the cached licenses of keys no longer listed). Returns a stop function.
   */
  watch(onChange: () => void): () => void {
    const file = this.#jwksFile;
    if (file === undefined) return () => {};
    return watchFileChanges(file, () => {
      if (!this.reload()) return;
      try {
        onChange();
      } catch (err) {
        this.#log?.error({ file, err: errorMessage(err) }, "license key change handler failed");
      }
    });
  }

  /** What `/.well-known/jwks.json` serves: the signing key's public JWK only. */
  publicJwks(): { keys: Record<string, string>[] } {
    return { keys: this.#signingKey ? [{ ...this.#signingKey.publicJwk }] : [] };
  }
}

/**
 * Calls `changed` after each change of `file` (its stats polled about once a
 * second, the timer unref'd: it never holds the process open). Returns a
 * stop function. Our own poll against a baseline taken now, synchronously.
 * Not fs.watchFile: it calls back only when a stat differs from its own
 * first stat, which libuv takes later on the thread pool, so a write in
 * between (a busy machine, a rotation right after start) was never seen.
 */
export function watchFileChanges(file: string, changed: () => void): () => void {
  let seen = statOrNull(file);
  const timer = setInterval(() => {
    const curr = statOrNull(file);
    if (sameFile(curr, seen)) return;
    seen = curr;
    changed();
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}

/** Whether two stats of a watched file (a JWKS file) are of the same content: unchanged since the last read. */
export function sameFile(a: Stats | null, b: Stats | null): boolean {
  if (a === null || b === null) return a === b;
  return a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino;
}

/** The file's stats, or null when it cannot be read. */
export function statOrNull(file: string): Stats | null {
  try {
    return statSync(file);
  } catch {
    return null;
  }
}
