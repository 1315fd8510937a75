// Checks an X-Chartroom-Signature (a compact JWS with detached payload,
// docs/api.md §11) with jose, an implementation independent of ours
// (src/licensing/spec-key.ts signs with node:crypto).
import { createLocalJWKSet, flattenedVerify, type JWK, type JWSHeaderParameters } from "jose";

/** Verifies `jws` (header..signature) over `payload` (the exact bytes; b64 is true, so jose gets their base64url) against `keys`; resolves to the protected header, rejects when it does not verify. */
export async function joseVerifyDetached(jws: string, payload: Uint8Array, keys: JWK[] | { keys: JWK[] }): Promise<JWSHeaderParameters> {
  const [protectedHeader, empty, signature, ...rest] = jws.split(".");
  if (empty !== "" || protectedHeader === undefined || signature === undefined || rest.length > 0) throw new Error(`not a detached compact JWS: ${jws}`);
  const jwks = { keys: Array.isArray(keys) ? keys : keys.keys };
  const result = await flattenedVerify({ protected: protectedHeader, payload: Buffer.from(payload).toString("base64url"), signature }, createLocalJWKSet(jwks), { algorithms: ["EdDSA"] });
  if (!result.protectedHeader) throw new Error("the JWS has no protected header");
  return result.protectedHeader;
}
