// Anonymous polls (docs/api.md §1, ANONYMOUS_CHANNEL): a poll with no
// Authorization header, admitted by the poll gate (src/services/poll-gate.ts)
// as this reserved licensee. No license can carry its `sub`: the verifier
// refuses it (src/licensing/verify-license.ts), the admin API refuses to
// issue it or give it values, and the spec service never applies values to
// it; so the fleet's row for it (one row, src/services/fleet-service.ts) is
// every anonymous poll and nothing else.
import type { License } from "./verify-license.js";

/** The fleet's licensee for anonymous polls; parentheses: no real licensee id looks like it. */
export const ANONYMOUS_SUB = "(anonymous)";

/** The license an anonymous poll is admitted with: the channel, no jti, no expiry of its own. */
export function anonymousLicense(channel: string): License {
  return Object.freeze({ sub: ANONYMOUS_SUB, channel, exp: Number.POSITIVE_INFINITY });
}

export function isAnonymous(license: License): boolean {
  return license.sub === ANONYMOUS_SUB;
}
