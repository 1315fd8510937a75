// The X-Chartroom-Signature of a serialized spec (docs/api.md §11), made once
// per spec and kept as long as the spec is: the poll and a bundle's spec.jws
// ask here, so both carry the very same JWS for the same bytes.
import type { SerializedSpec } from "./spec.js";

export function specSignatures(signer: { signDetached(payload: Uint8Array): string }) {
  const signatures = new WeakMap<SerializedSpec, string>();
  return {
    /** The detached JWS of the spec's body: signed on first use, then the same string. */
    of(spec: SerializedSpec): string {
      let jws = signatures.get(spec);
      if (jws === undefined) {
        jws = signer.signDetached(spec.body);
        signatures.set(spec, jws);
      }
      return jws;
    },
  };
}
export type SpecSignatures = ReturnType<typeof specSignatures>;
