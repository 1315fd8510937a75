// Issues license JWTs with this server's own signing key (POST /api/v1/admin/licenses).
import { createSigner } from "fast-jwt";
import type { SigningKey } from "./license-keys.js";

export interface LicenseClaimsToSign {
  sub: string;
  channel: string;
  jti: string;
  /** Seconds since the epoch (an integer). */
  exp: number;
  /** Seconds since the epoch; defaults to now. */
  iat?: number;
  iss?: string;
  aud?: string;
}

type SignFn = (payload: Record<string, unknown>) => string;

// One fast-jwt signer per signing key; it parses the PEM once.
const signers = new WeakMap<SigningKey, SignFn>();

function signerFor(key: SigningKey): SignFn {
  let sign = signers.get(key);
  if (!sign) {
    // fast-jwt takes private keys as PEM strings, not KeyObjects.
    const pem = key.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    sign = createSigner({ key: pem, algorithm: key.alg, kid: key.kid }) as SignFn;
    signers.set(key, sign);
  }
  return sign;
}

/** Signs a license JWT (header: alg and kid of the key, typ JWT). */
export function signLicense(key: SigningKey, claims: LicenseClaimsToSign): string {
  const payload: Record<string, unknown> = {
    sub: claims.sub,
    channel: claims.channel,
    jti: claims.jti,
    exp: claims.exp,
  };
  // Optional claims are left out rather than written as undefined/null.
  if (claims.iat !== undefined) payload.iat = claims.iat;
  if (claims.iss !== undefined) payload.iss = claims.iss;
  if (claims.aud !== undefined) payload.aud = claims.aud;
  return signerFor(key)(payload);
}
