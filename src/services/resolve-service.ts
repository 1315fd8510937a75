// GET /resolve (docs/api.md §7): what a licensee's poll of the channel
// route gets now, and why. The server cannot know a licensee's channel
// without its license, so the caller names it, or it is the channel of a
// license without a channel claim (LICENSE_DEFAULT_CHANNEL), and the answer
// says so. The reserved licensee "(anonymous)" is an anonymous poll, of
// ANONYMOUS_CHANNEL. The answer comes from the spec service's own path
// (src/services/spec-service.ts explain()), so its release and ETag are
// the poll's.
import { fieldError } from "../errors.js";
import { ANONYMOUS_SUB } from "../licensing/anonymous.js";
import type { Reason } from "./resolve-release.js";
import type { PathDecision } from "./upgrade-path.js";
import type { SpecService } from "./spec-service.js";

export interface ResolveQuery {
  sub: string;
  channel?: string | undefined;
}

export interface ResolveAnswer {
  sub: string;
  channel: string;
  release: { id: string; version: string };
  etag: string;
  reasons: Reason[];
  path?: PathDecision | undefined;
}

export interface ResolveServiceOptions {
  /** LICENSE_DEFAULT_CHANNEL. */
  defaultChannel: string;
  /** ANONYMOUS_CHANNEL (unset: no anonymous polls are answered). */
  anonymousChannel?: string | undefined;
}

export function resolveService(specs: Pick<SpecService, "explain">, opts: ResolveServiceOptions) {
  /** The channel the poll is of, and the reason when the caller did not name it. */
  function channelOf(q: ResolveQuery): { channel: string; reason?: Reason } {
    if (q.sub === ANONYMOUS_SUB) {
      const anonymous = opts.anonymousChannel;
      if (!anonymous) throw fieldError("sub", `"${ANONYMOUS_SUB}" stands for anonymous polls, which this server does not answer (ANONYMOUS_CHANNEL is unset: 401 LICENSE_MISSING)`);
      if (q.channel !== undefined && q.channel !== anonymous) throw fieldError("channel", `anonymous polls get ANONYMOUS_CHANNEL (${anonymous}), never channel ${q.channel}`);
      return { channel: anonymous, reason: { rule: "channel", detail: `anonymous polls get ANONYMOUS_CHANNEL, ${anonymous}` } };
    }
    if (q.channel !== undefined) return { channel: q.channel };
    return {
      channel: opts.defaultChannel,
      reason: { rule: "channel", detail: `no channel given: ${opts.defaultChannel}, the channel of a license without a channel claim (LICENSE_DEFAULT_CHANNEL); a license that names its channel polls that one` },
    };
  }

  return {
    async resolve(q: ResolveQuery): Promise<ResolveAnswer> {
      const { channel, reason } = channelOf(q);
      const { spec, reasons, path } = await specs.explain(channel, q.sub);
      return {
        sub: q.sub,
        channel,
        release: { id: spec.releaseId, version: spec.version },
        etag: spec.etag,
        reasons: reason ? [reason, ...reasons] : reasons,
        ...(path ? { path } : {}),
      };
    },
  };
}
export type ResolveService = ReturnType<typeof resolveService>;
