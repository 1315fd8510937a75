// The X-Chartroom-Signature of a serialized spec (docs/api.md §11), made once
// per spec and kept as long as the spec is: the poll and a bundle's spec.jws
// ask here, so both carry the very same JWS for the same bytes. A spec
// serialized again with the same bytes (after a cache invalidation) gets the
// same signature too, found by its ETag (a strong hash of the body,
// src/services/spec.ts), so answers do not change with the cache.
import { LRUCache } from "lru-cache";
import type { SerializedSpec } from "./spec.js";

export function specSignatures(signer: { signDetached(payload: Uint8Array): string }, opts: { maxEntries?: number } = {}) {
  const signatures = new WeakMap<SerializedSpec, string>();
  const byEtag = new LRUCache<string, string>({ max: opts.maxEntries ?? 10_000 });
  return {
    /** The detached JWS of the spec's body: signed on first use, then the same string. */
    of(spec: SerializedSpec): string {
      let jws = signatures.get(spec);
      if (jws === undefined) {
        jws = byEtag.get(spec.etag) ?? signer.signDetached(spec.body);
        signatures.set(spec, jws);
        byEtag.set(spec.etag, jws);
      }
      return jws;
    },
  };
}
export type SpecSignatures = ReturnType<typeof specSignatures>;
