// License JWT verification (docs/api.md §2): the Authorization header parser and
// the verifier the operator endpoints call on every poll.
//
// Design notes:
// - The checks that decide WHICH key and algorithm to use (size, shape, alg,
//   crit, kid) are done here, before fast-jwt sees the token, so that the
//   token can never steer verification: `alg` is an allow-list of three
//   asymmetric algorithms, and the key comes only from the keyring by kid.
//   Headers like jku / x5u / jwk / x5c are ignored, never fetched.
// - fast-jwt then checks the signature and the registered claims. Its traps
//   (a claim that is absent is not validated, iss/aud are not checked unless
//   asked) are closed by `requiredClaims` and `allowedIss` / `allowedAud`.
// - Every failure is one of the catalogue's 401 errors; nothing else leaves
//   `verify`. No message ever contains the token.
// - This module logs nothing.
import { hash } from "node:crypto";
import { createVerifier, type TokenError } from "fast-jwt";
import { LicenseCache } from "./license-cache.js";
import {
  LicenseAlgorithmError,
  LicenseAudienceError,
  LicenseClaimsError,
  LicenseExpiredError,
  LicenseIssuerError,
  LicenseMalformedError,
  LicenseMissingError,
  LicenseNotYetValidError,
  LicenseSignatureError,
  LicenseTooLargeError,
  LicenseUnknownKeyError,
} from "../errors.js";
import { CHANNEL_NAME, identifierProblem, licenseId, licenseSubject } from "../domain/schemas.js";
import { internPool } from "../domain/intern.js";
import type { LicenseAlg, LicenseKeyring, TrustedKey } from "./license-keys.js";
import { ANONYMOUS_SUB } from "./anonymous.js";

/** A verified license. Times are in seconds since the epoch. */
export interface License {
  sub: string;
  channel: string;
  jti?: string;
  /** At most MAX_LICENSE_EXP_SEC: a later `exp` is read as that instant. */
  exp: number;
  iat?: number;
  nbf?: number;
  /** The kid of the key that verified it (the cache drops it when that key goes). */
  kid?: string;
}

export const DEFAULT_MAX_TOKEN_BYTES = 8192;
const DEFAULT_CLOCK_TOLERANCE_SEC = 60;
const DEFAULT_CACHE_SIZE = 200_000;
/**
 * The latest `exp` a license keeps: 9999-12-31T23:59:59Z, the last instant
 * every consumer of the fleet can represent (a four-digit ISO 8601 year,
 * what Go's time.Time marshals, SQLite's text dates). A later `exp`, such as
 * 2^53 - 1 or 1e308 written to mean "never", is read as this instant
 * (docs/decisions.md, decision 50).
 */
export const MAX_LICENSE_EXP_SEC = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;
/** Longer Authorization headers are refused by tokenFromAuthorization anyway. */
const MAX_AUTHORIZATION_LENGTH = 16 * 1024;

/**
 * Cache key of an Authorization header: its SHA-256 as a 32-character
 * one-byte string (base64url would take 43: 16 bytes more per licensee). A
 * raw token, the other kind of key, is far longer than 32 characters, so the
 * two kinds never meet.
 */
function headerKey(header: string): string {
  return hash("sha256", header, "binary"); // "binary" = latin1: one char per byte
}

const ALLOWED_ALGS: ReadonlySet<string> = new Set<LicenseAlg>(["RS256", "ES256", "EdDSA"]);
const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;

// Every catalogue error this module may throw; anything else is wrapped.
const LICENSE_ERRORS = [
  LicenseAlgorithmError,
  LicenseAudienceError,
  LicenseClaimsError,
  LicenseExpiredError,
  LicenseIssuerError,
  LicenseMalformedError,
  LicenseMissingError,
  LicenseNotYetValidError,
  LicenseSignatureError,
  LicenseTooLargeError,
  LicenseUnknownKeyError,
];

function isCatalogueError(err: unknown): boolean {
  return LICENSE_ERRORS.some((C) => err instanceof C);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * The longest `Authorization` header that can still carry a token within the
 * limit: "Basic " + base64("license:" + token), plus a little slack for
 * surrounding whitespace. A longer header is refused before it is decoded.
 */
function maxHeaderLength(maxTokenBytes: number): number {
  return "Basic ".length + 4 * Math.ceil(("license:".length + maxTokenBytes) / 3) + 16;
}

function byteLengthExceeds(s: string, max: number): boolean {
  // s.length counts UTF-16 units, never more than the UTF-8 bytes: cheap pre-check.
  return s.length > max || Buffer.byteLength(s, "utf8") > max;
}

/**
 * Extracts the license JWT from an `Authorization` header:
 * `Basic base64("license:" + JWT)` (what the W&B operator sends) or
 * `Bearer JWT`; schemes are case-insensitive. The token is not verified here.
 */
export function tokenFromAuthorization(header: string | undefined, maxTokenBytes = DEFAULT_MAX_TOKEN_BYTES): string {
  if (header === undefined || header.trim() === "") throw new LicenseMissingError();
  if (header.length > maxHeaderLength(maxTokenBytes)) throw new LicenseTooLargeError(maxTokenBytes);

  const trimmed = header.trim();
  const space = trimmed.search(/\s/);
  const scheme = (space === -1 ? trimmed : trimmed.slice(0, space)).toLowerCase();
  const credentials = space === -1 ? "" : trimmed.slice(space).trim();
  // Whitespace around the credentials (a Bearer JWT, the Basic base64) was trimmed above.
  if (/\s/.test(credentials)) throw new LicenseMalformedError("unexpected whitespace in the Authorization header");

  let token: string;
  if (scheme === "bearer") {
    if (credentials === "") throw new LicenseMalformedError("the Bearer credentials are empty");
    token = credentials;
  } else if (scheme === "basic") {
    token = tokenFromBasic(credentials);
  } else {
    throw new LicenseMalformedError("the Authorization scheme must be Basic or Bearer");
  }
  if (byteLengthExceeds(token, maxTokenBytes)) throw new LicenseTooLargeError(maxTokenBytes);
  return token;
}

function tokenFromBasic(credentials: string): string {
  // Strict base64 (RFC 4648 §4): Buffer.from(…, "base64") would silently skip
  // invalid characters. Padding is optional, but if present it must be right.
  const valid =
    /^[A-Za-z0-9+/]+={0,2}$/.test(credentials) &&
    (credentials.includes("=") ? credentials.length % 4 === 0 : credentials.length % 4 !== 1);
  if (!valid) throw new LicenseMalformedError("the Basic credentials are not valid base64");
  const decoded = Buffer.from(credentials, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon === -1) throw new LicenseMalformedError("the Basic credentials have no user:password separator");
  if (decoded.slice(0, colon) !== "license") throw new LicenseMalformedError('the Basic user name must be "license"');
  // A license read untrimmed from a file or Secret ends in a newline: the
  // whitespace around the JWT is not part of it. Inside it, it is an error.
  const token = decoded.slice(colon + 1).trim();
  if (token === "") throw new LicenseMalformedError("the Basic password (the license) is empty");
  if (/\s/.test(token)) throw new LicenseMalformedError("the license in the Basic credentials contains whitespace");
  return token;
}

export interface LicenseVerifierOptions {
  keyring: Pick<LicenseKeyring, "get">;
  /** LICENSE_ISSUER: when set, `iss` must equal it. */
  issuer?: string;
  /** LICENSE_AUDIENCE: when set, `aud` (string or array) must contain it. */
  audience?: string;
  /** LICENSE_DEFAULT_CHANNEL: the entitlement of a license with no `channel` claim. */
  defaultChannel: string;
  /** Allowed clock skew for exp / nbf / iat, in seconds (default 60). */
  clockToleranceSec?: number;
  /** Longest accepted token, in bytes (default 8192). */
  maxTokenBytes?: number;
  /** Verified licenses kept in memory, least recently used evicted (default 200 000). */
  cacheSize?: number;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

type FastVerify = (token: string) => unknown;

/** A fast-jwt verifier bound to one trusted key (see #verifierFor). */
interface Memo {
  kid: string;
  alg: LicenseAlg;
  publicKey: TrustedKey["publicKey"];
  pem: string;
  verify: FastVerify;
  /** The clock value the verifier was built with, when a custom clock is in use. */
  clock: number | undefined;
}

export class LicenseVerifier {
  readonly #keyring: Pick<LicenseKeyring, "get">;
  readonly #issuer: string | undefined;
  readonly #audience: string | undefined;
  readonly #defaultChannel: string;
  readonly #toleranceMs: number;
  readonly #maxTokenBytes: number;
  readonly #now: (() => number) | undefined;
  readonly #cache: LicenseCache<License>;
  // Keyed by the TrustedKey object: a reloaded key set brings new objects, so
  // a verifier never outlives the key it was built for.
  #verifiers = new WeakMap<TrustedKey, Memo>();
  // The key each kid stood for when it last verified a license, so that a
  // change of keys drops exactly the entries of keys no longer trusted.
  #verifiedBy = new Map<string, TrustedKey>();
  #hits = 0;
  #misses = 0;

  constructor(opts: LicenseVerifierOptions) {
    this.#keyring = opts.keyring;
    this.#issuer = opts.issuer || undefined;
    this.#audience = opts.audience || undefined;
    this.#defaultChannel = opts.defaultChannel;
    this.#toleranceMs = (opts.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC) * 1000;
    this.#maxTokenBytes = opts.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
    this.#now = opts.now;
    // Served until `exp`, on the wall clock like `exp` itself.
    this.#cache = new LicenseCache<License>({ max: opts.cacheSize ?? DEFAULT_CACHE_SIZE, now: () => this.#clock() });
  }

  /** One string per channel name, not one per license held in the cache. */
  readonly #intern = internPool(1000);

  #clock(): number {
    return this.#now ? this.#now() : Date.now();
  }

  /**
   * The license of an Authorization header already verified and still
   * valid, or undefined. The operator path's warm case: one SHA-256 of the
   * header and one map lookup, no base64 decoding, no signature check. The
   * cache key is the header's digest, so an entry costs ~100 bytes, not the
   * ~1 KB header.
   */
  cachedForAuthorization(header: string | undefined): License | undefined {
    if (header === undefined || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
    const cached = this.#cache.get(this.#keyOf(header));
    if (cached !== undefined) this.#hits++;
    return cached;
  }

  /** Verifies the license in an Authorization header (Basic license:JWT or Bearer JWT). */
  verifyAuthorization(header: string | undefined): License {
    return this.cachedForAuthorization(header) ?? this.verifyUncachedAuthorization(header);
  }

  /**
   * Verifies an Authorization header that `cachedForAuthorization` has just
   * missed: straight to parsing and the signature check, without a second
   * digest and lookup. The result is cached under the header's digest.
   */
  verifyUncachedAuthorization(header: string | undefined): License {
    const token = tokenFromAuthorization(header, this.#maxTokenBytes);
    return this.#guarded(token, this.#keyOf(header as string), false);
  }

  // The digest of the header looked up last: a miss is verified next, with
  // the same header, and need not be hashed twice (a pure function of it).
  #lastHeader: string | undefined;
  #lastKey = "";
  #keyOf(header: string): string {
    if (header !== this.#lastHeader) {
      this.#lastKey = headerKey(header);
      this.#lastHeader = header;
    }
    return this.#lastKey;
  }

  /** Verifies a license JWT; throws a catalogue 401 error for any failure. */
  verify(token: string): License {
    // A raw token is its own cache key. Header digests are 32 characters, so
    // a token that short (never a valid JWT) is not looked up: it could
    // otherwise name another header's cached license.
    return this.#guarded(token, token, typeof token === "string" && token.length > 32);
  }

  /** Runs #verify so that nothing but a catalogue 401 ever escapes. */
  #guarded(token: string, cacheKey: string, lookUp: boolean): License {
    try {
      return this.#verify(token, cacheKey, lookUp);
    } catch (err) {
      if (isCatalogueError(err)) throw err;
      // Defence in depth: no internal error (or its message) escapes as a 500.
      throw new LicenseMalformedError("the license could not be verified");
    }
  }

  #verify(token: string, cacheKey: string, lookUp: boolean): License {
    if (typeof token !== "string") throw new LicenseMalformedError("the license is not a string");
    // 1. Size, before any parsing.
    if (byteLengthExceeds(token, this.#maxTokenBytes)) throw new LicenseTooLargeError(this.#maxTokenBytes);

    // Warm path: only tokens that verified are cached, so no crypto is needed.
    const cached = lookUp ? this.#cache.get(cacheKey) : undefined;
    if (cached !== undefined) {
      this.#hits++;
      return cached;
    }
    this.#misses++;

    // 2. Exactly three non-empty base64url segments (this also refuses an
    //    unsigned token, whose third segment is empty).
    const segments = token.split(".");
    if (segments.length !== 3 || !segments.every((s) => BASE64URL_SEGMENT.test(s))) {
      throw new LicenseMalformedError("expected three non-empty base64url segments");
    }

    // 3. Header: a JSON object.
    let header: unknown;
    try {
      header = JSON.parse(Buffer.from(segments[0] as string, "base64url").toString("utf8"));
    } catch {
      throw new LicenseMalformedError("the header is not base64url-encoded JSON");
    }
    if (!isRecord(header)) throw new LicenseMalformedError("the header is not a JSON object");

    // 4. Algorithm: exactly one of the three, case-sensitive.
    const alg = header.alg;
    if (typeof alg !== "string" || !ALLOWED_ALGS.has(alg)) throw new LicenseAlgorithmError(describeAlg(alg));

    // 5. No critical extensions are understood, so any `crit` is refused (RFC 7515 §4.1.11).
    if ("crit" in header) throw new LicenseMalformedError("critical header extensions are not supported");

    // 6. The key: picked by kid from the keyring only, and it must be a key for this alg.
    const kid = header.kid;
    const key = typeof kid === "string" ? this.#keyring.get(kid) : undefined;
    if (!key) throw new LicenseUnknownKeyError();
    if (key.alg !== alg) throw new LicenseAlgorithmError(describeAlg(alg));

    // 7. Signature and registered claims.
    let payload: unknown;
    try {
      payload = this.#verifierFor(key).verify(token);
    } catch (err) {
      throw this.#mapFastJwtError(err, segments[1] as string);
    }
    if (!isRecord(payload)) throw new LicenseMalformedError("the payload is not a JSON object");

    // 8. Our own claim rules.
    const license = this.#licenseFrom(payload, key.kid);
    this.#remember(cacheKey, license, key);
    return license;
  }

  /**
   * The fast-jwt verifier for a trusted key, built on first use. fast-jwt
   * fixes `clockTimestamp` when the verifier is created, so with the default
   * clock it is left unset (fast-jwt reads Date.now() per call) and the
   * verifier lives as long as the key; with an injected clock the verifier is
   * rebuilt whenever that clock has moved.
   */
  #verifierFor(key: TrustedKey): Memo {
    const clock = this.#now ? this.#now() : undefined;
    let memo = this.#verifiers.get(key);
    if (memo && memo.kid === key.kid && memo.alg === key.alg && memo.publicKey === key.publicKey && memo.clock === clock) {
      return memo;
    }
    // fast-jwt takes keys as PEM strings, not KeyObjects.
    const pem =
      memo && memo.publicKey === key.publicKey
        ? memo.pem
        : key.publicKey.export({ type: "spki", format: "pem" }).toString();
    const requiredClaims = ["exp", "sub"];
    // fast-jwt skips the iss / aud check when the claim is absent: require it.
    if (this.#issuer !== undefined) requiredClaims.push("iss");
    if (this.#audience !== undefined) requiredClaims.push("aud");
    const verify = createVerifier({
      key: pem,
      algorithms: [key.alg],
      requiredClaims,
      clockTolerance: this.#toleranceMs,
      ...(clock !== undefined ? { clockTimestamp: clock } : {}),
      ...(this.#issuer !== undefined ? { allowedIss: this.#issuer } : {}),
      ...(this.#audience !== undefined ? { allowedAud: this.#audience } : {}),
      cache: false,
    }) as FastVerify;
    memo = { kid: key.kid, alg: key.alg, publicKey: key.publicKey, pem, verify, clock };
    this.#verifiers.set(key, memo);
    return memo;
  }

  /** Maps a fast-jwt error (or anything else thrown while verifying) to the catalogue. */
  #mapFastJwtError(err: unknown, payloadSegment: string): Error {
    const code = (err as Partial<TokenError> | undefined)?.code;
    // fast-jwt messages are fixed texts (no token content); they help explain claim errors.
    const detail = err instanceof Error ? err.message : "unknown error";
    switch (code) {
      case "FAST_JWT_INVALID_SIGNATURE":
      case "FAST_JWT_VERIFY_ERROR": // a signature that cannot even be parsed, e.g. a short ES256 one
        return new LicenseSignatureError();
      case "FAST_JWT_EXPIRED":
        return new LicenseExpiredError();
      case "FAST_JWT_INACTIVE":
        return new LicenseNotYetValidError();
      case "FAST_JWT_INVALID_ALGORITHM":
        return new LicenseAlgorithmError("(mismatch)");
      // fast-jwt names the failing claim only in prose; the signature has been
      // verified by the time claims are checked, so read the payload instead.
      case "FAST_JWT_MISSING_REQUIRED_CLAIM": {
        // Required in this order: exp, sub, then iss / aud when configured.
        // A missing iss / aud is a wrong issuer / audience.
        const p = decodeJsonSegment(payloadSegment);
        if (p && "exp" in p && "sub" in p) {
          if (this.#issuer !== undefined && !("iss" in p)) return new LicenseIssuerError();
          if (this.#audience !== undefined && !("aud" in p)) return new LicenseAudienceError();
        }
        return new LicenseClaimsError(detail);
      }
      case "FAST_JWT_INVALID_CLAIM_VALUE": {
        // Only the iss and aud validators are configured with allowed values.
        const which = this.#failingIssAud(decodeJsonSegment(payloadSegment));
        if (which === "iss") return new LicenseIssuerError();
        if (which === "aud") return new LicenseAudienceError();
        return new LicenseClaimsError(detail);
      }
      case "FAST_JWT_INVALID_CLAIM_TYPE":
        return new LicenseClaimsError(detail);
      default:
        // FAST_JWT_MALFORMED, INVALID_PAYLOAD, INVALID_KEY, INVALID_CRIT_HEADER, … and non-fast-jwt errors.
        return new LicenseMalformedError(typeof code === "string" && code.startsWith("FAST_JWT_") ? detail : "the license could not be verified");
    }
  }

  /** Which configured iss/aud constraint the payload breaks, if any (missing counts as wrong). */
  #failingIssAud(payload: Record<string, unknown> | undefined): "iss" | "aud" | undefined {
    if (!payload) return undefined;
    if (this.#issuer !== undefined && payload.iss !== this.#issuer) return "iss";
    if (this.#audience !== undefined) {
      const aud = payload.aud;
      const auds = Array.isArray(aud) ? aud : [aud];
      if (!auds.includes(this.#audience)) return "aud";
    }
    return undefined;
  }

  /** Applies Chartroom's own claim rules to a signature-verified payload. */
  #licenseFrom(p: Record<string, unknown>, kid: string): License {
    const { sub, exp, channel, jti, iat, nbf } = p;
    if (sub === ANONYMOUS_SUB) throw new LicenseClaimsError(`sub "${ANONYMOUS_SUB}" is reserved for anonymous polls`);
    const subProblem = identifierProblem(licenseSubject, sub);
    if (subProblem !== undefined) throw new LicenseClaimsError(`sub ${subProblem}`);
    // NaN never comes out of JSON, but 1e309 parses as Infinity: "never", like 1e308.
    if (typeof exp !== "number" || Number.isNaN(exp)) throw new LicenseClaimsError("exp must be a number");
    if (channel !== undefined && (typeof channel !== "string" || !CHANNEL_NAME.test(channel))) {
      throw new LicenseClaimsError("channel must be a channel name (^[a-z][a-z0-9-]{0,62}$)");
    }
    const jtiProblem = jti === undefined ? undefined : identifierProblem(licenseId, jti);
    if (jtiProblem !== undefined) throw new LicenseClaimsError(`jti ${jtiProblem}`);
    if (nbf !== undefined && (typeof nbf !== "number" || !Number.isFinite(nbf))) throw new LicenseClaimsError("nbf must be a number");
    if (iat !== undefined) {
      // fast-jwt checks iat only with maxAge; we honour it: a number, and not from the future.
      if (typeof iat !== "number" || !Number.isFinite(iat)) throw new LicenseClaimsError("iat must be a number");
      if (iat * 1000 - this.#toleranceMs > this.#clock()) throw new LicenseNotYetValidError();
    }
    // Every field in one literal (an absent claim is undefined): fields added
    // afterwards would live in a separate property array, 40 bytes more per
    // cached license. Frozen: the same object is handed out on every hit.
    return Object.freeze({
      sub: sub as string, // an identifier: checked above
      channel: channel === undefined ? this.#defaultChannel : this.#intern(channel),
      // Far-future claims are clamped here, once, so that the cache, the
      // fleet and every date built from a license see a representable time.
      exp: Math.min(exp, MAX_LICENSE_EXP_SEC),
      jti: jti as string | undefined,
      iat: iat as number | undefined,
      nbf: nbf as number | undefined,
      kid,
    });
  }

  /**
   * Caches a verified license until its `exp`, unless it is past it already
   * (it was accepted within the clock tolerance): every hit checks `exp`
   * again, with no tolerance.
   */
  #remember(token: string, license: License, key: TrustedKey): void {
    if (license.exp * 1000 <= this.#clock()) return;
    if (this.#verifiedBy.get(key.kid) !== key) this.#verifiedBy.set(key.kid, key);
    this.#cache.set(token, license);
  }

  /**
   * Called after the trusted keys changed (the JWKS file was reloaded):
   * drops every cached license verified by a key the keyring no longer
   * lists, or lists with different key material under the same kid. The
   * others stay cached, so a rotation that adds a key keeps the fleet warm.
   * Returns how many licenses were dropped.
   */
  retainTrustedKeys(): number {
    const gone = new Set<string>();
    for (const [kid, was] of this.#verifiedBy) {
      const now = this.#keyring.get(kid);
      if (now !== undefined && now.alg === was.alg && now.publicKey.equals(was.publicKey)) {
        this.#verifiedBy.set(kid, now); // the reloaded copy of the same key
      } else {
        gone.add(kid);
        this.#verifiedBy.delete(kid);
      }
    }
    return gone.size === 0 ? 0 : this.#cache.deleteWhere((license) => gone.has(license.kid as string));
  }

  /** Empties the cache. */
  clear(): void {
    this.#cache.clear();
    this.#verifiedBy.clear();
  }

  stats(): { hits: number; misses: number; size: number; max: number } {
    return { hits: this.#hits, misses: this.#misses, size: this.#cache.size, max: this.#cache.max };
  }
}

/** Decodes a base64url JSON object segment; undefined when it is not one. */
function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return isRecord(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** A short, safe rendering of the header's alg for the error message (never the raw input). */
function describeAlg(alg: unknown): string {
  if (typeof alg === "string" && /^[A-Za-z0-9+_-]{1,16}$/.test(alg)) return JSON.stringify(alg);
  if (alg === undefined) return "(missing)";
  return "(invalid)";
}
