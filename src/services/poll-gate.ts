// Who may poll: the admission of one operator request (license, revocation,
// rate limits), in the order docs/api.md §2 and the limits require. Built
// once in src/context.ts; the operator routes (src/routes/operator.ts) call
// it from their onRequest hook, the poll replay (src/routes/poll-replay.ts)
// before it answers.
//
// Synchronous whenever the answer is in memory (a cached license, the
// in-memory limit counters); a promise only when a limit lives in Redis.
//
// Every poll counts against a limit, refusals included, so a flood ends in
// 429: a license not verified yet (and every bad credential) per client IP,
// a verified license per licensee, a revoked one per license (its jti), an
// anonymous poll (no Authorization header, ANONYMOUS_CHANNEL) per client IP.
import { LicenseRevokedError } from "../errors.js";
import { anonymousLicense } from "../licensing/anonymous.js";
import type { License, LicenseVerifier } from "../licensing/verify-license.js";
import type { Metrics } from "../metrics.js";
import { rateLimitedError, type Limiter, type Verdict } from "./rate-limits.js";
import type { RevocationSet } from "./revocations.js";

export type Admission = { license: License; error?: undefined } | { error: Error; license?: undefined };
type Admitted = Admission | Promise<Admission>;

export interface PollGateDeps {
  verifier: Pick<LicenseVerifier, "cachedForAuthorization" | "verifyUncachedAuthorization">;
  revocations: Pick<RevocationSet, "has">;
  metrics: Pick<Metrics, "okVerification" | "anonymousVerification" | "licenseVerifications">;
  /** Per client IP, applied only where a request costs a signature check or a refusal, and to anonymous polls. */
  ipLimit: Limiter | null;
  /** Per licensee, applied to every admitted poll. */
  licenseLimit: Limiter | null;
  /** Per revoked license (jti): the licensee limit for polls refused as revoked. */
  revokedLimit: Limiter | null;
  /** ANONYMOUS_CHANNEL: the channel of polls without an Authorization header (unset: they are refused). */
  anonymousChannel?: string | undefined;
}

/** `then` for a verdict that may be a promise (a Redis limit), without a promise when it is not. */
function afterTake(limiter: Limiter, key: string, next: (v: Verdict) => Admitted): Admitted {
  const v = limiter.take(key);
  return v instanceof Promise ? v.then(next) : next(v);
}

export function pollGate({ verifier, revocations, metrics, ipLimit, licenseLimit, revokedLimit, anonymousChannel }: PollGateDeps) {
  const anonymous = anonymousChannel === undefined ? undefined : anonymousLicense(anonymousChannel);

  function refuse(error: Error): Admission {
    metrics.licenseVerifications.inc({ outcome: (error as { code?: string }).code ?? "INTERNAL" });
    return { error };
  }

  /** A verdict of the limit `license` counts against: the license, or a 429. */
  function limited(license: License, v: Verdict): Admission {
    return v === true ? { license } : { error: rateLimitedError(v) };
  }

  /** A revoked license is a 403 until its own limit is spent, then a 429. */
  function refuseRevoked(jti: string): Admitted {
    const revoked = refuse(new LicenseRevokedError());
    if (!revokedLimit) return revoked;
    return afterTake(revokedLimit, jti, (v) => (v === true ? revoked : { error: rateLimitedError(v) }));
  }

  function admitVerified(license: License): Admitted {
    if (license.jti !== undefined && revocations.has(license.jti)) return refuseRevoked(license.jti);
    metrics.okVerification.inc();
    if (!licenseLimit) return { license };
    // Written out, not afterTake: no closure per warm poll.
    const v = licenseLimit.take(license.sub);
    return v instanceof Promise ? v.then((x) => limited(license, x)) : limited(license, v);
  }

  /** An anonymous poll after its IP limit. */
  function admittedAnonymous(v: Verdict): Admission {
    if (v !== true) return refuse(rateLimitedError(v));
    metrics.anonymousVerification.inc();
    return { license: anonymous! };
  }

  function verifyFresh(header: string | undefined): Admitted {
    let license: License;
    try {
      license = verifier.verifyUncachedAuthorization(header);
    } catch (err) {
      return refuse(err as Error);
    }
    return admitVerified(license);
  }

  return {
    /**
     * Admits or refuses a poll from `ip`: synchronous when everything it
     * needs is in memory (a cached license, in-memory limits). With
     * `anonymousAllowed` (the channel route), a request without an
     * Authorization header is an anonymous poll when ANONYMOUS_CHANNEL is set.
     */
    admit(header: string | undefined, ip: string, anonymousAllowed = false): Admitted {
      if (header === undefined && anonymousAllowed) {
        const a = this.admitAnonymous(ip);
        if (a) return a;
      }
      const cached = this.admitCached(header);
      if (cached) return cached;
      if (!ipLimit) return verifyFresh(header);
      return afterTake(ipLimit, ip, (v) => (v === true ? verifyFresh(header) : refuse(rateLimitedError(v))));
    },

    /**
     * Admits or refuses a poll whose license is already verified; null (and
     * nothing counted) when it is not: then admit() decides, with the address.
     */
    admitCached(header: string | undefined): Admitted | null {
      const cached = verifier.cachedForAuthorization(header);
      return cached ? admitVerified(cached) : null;
    },

    /**
     * Admits a poll without an Authorization header from `ip` as anonymous
     * (limited per IP); null (nothing counted) when ANONYMOUS_CHANNEL is unset.
     */
    admitAnonymous(ip: string): Admitted | null {
      if (!anonymous) return null;
      if (!ipLimit) return admittedAnonymous(true);
      const v = ipLimit.take(ip);
      return v instanceof Promise ? v.then(admittedAnonymous) : admittedAnonymous(v);
    },
  };
}
export type PollGate = ReturnType<typeof pollGate>;
