// Who may poll: the admission of one operator request (license, revocation,
// rate limits), in the order docs/api.md §2 and the limits require. Built
// once in src/context.ts; the operator routes (src/routes/operator.ts) call
// it from their onRequest hook.
//
// Synchronous whenever the answer is in memory (a cached license, the
// in-memory limit counters); a promise only when a limit lives in Redis.
import { LicenseRevokedError } from "../errors.js";
import type { License, LicenseVerifier } from "../licensing/verify-license.js";
import type { Metrics } from "../metrics.js";
import { rateLimitedError, type Limiter, type Verdict } from "./rate-limits.js";
import type { RevocationSet } from "./revocations.js";

export type Admission = { license: License; error?: undefined } | { error: Error; license?: undefined };

export interface PollGateDeps {
  verifier: Pick<LicenseVerifier, "cachedForAuthorization" | "verifyUncachedAuthorization">;
  revocations: Pick<RevocationSet, "has">;
  metrics: Pick<Metrics, "okVerification" | "licenseVerifications">;
  /** Per client IP, applied only where a request costs a signature check or a refusal. */
  ipLimit: Limiter | null;
  /** Per licensee, applied to every admitted poll. */
  licenseLimit: Limiter | null;
}

export function pollGate({ verifier, revocations, metrics, ipLimit, licenseLimit }: PollGateDeps) {
  function refuse(error: Error): Admission {
    metrics.licenseVerifications.inc({ outcome: (error as { code?: string }).code ?? "INTERNAL" });
    return { error };
  }

  function limited(license: License, v: Verdict): Admission {
    return v === true ? { license } : { error: rateLimitedError(v) };
  }

  function admitVerified(license: License): Admission | Promise<Admission> {
    if (revocations.has(license.jti)) return refuse(new LicenseRevokedError());
    metrics.okVerification.inc();
    if (!licenseLimit) return { license };
    const v = licenseLimit.take(license.sub);
    return v instanceof Promise ? v.then((x) => limited(license, x)) : limited(license, v);
  }

  function verifyFresh(header: string | undefined): Admission | Promise<Admission> {
    let license: License;
    try {
      license = verifier.verifyUncachedAuthorization(header);
    } catch (err) {
      return refuse(err as Error);
    }
    return admitVerified(license);
  }

  function afterIpLimit(header: string | undefined, v: Verdict): Admission | Promise<Admission> {
    return v === true ? verifyFresh(header) : refuse(rateLimitedError(v));
  }

  return {
    /**
     * Admits or refuses a poll from `ip`: synchronous when everything it
     * needs is in memory (a cached license, in-memory limits).
     */
    admit(header: string | undefined, ip: string): Admission | Promise<Admission> {
      const cached = this.admitCached(header);
      if (cached) return cached;
      if (!ipLimit) return verifyFresh(header);
      const v = ipLimit.take(ip);
      return v instanceof Promise ? v.then((x) => afterIpLimit(header, x)) : afterIpLimit(header, v);
    },

    /**
     * Admits or refuses a poll whose license is already verified; null (and
     * nothing counted) when it is not: then admit() decides, with the address.
     */
    admitCached(header: string | undefined): Admission | Promise<Admission> | null {
      const cached = verifier.cachedForAuthorization(header);
      return cached ? admitVerified(cached) : null;
    },
  };
}
export type PollGate = ReturnType<typeof pollGate>;
