// GET /resolve as the admin API answers it (docs/api.md §7).
import { z } from "zod";
import { channelName, licenseSubject } from "../../../domain/schemas.js";
import { ANONYMOUS_SUB } from "../../../licensing/anonymous.js";
import { RESOLVE_RULES } from "../../../services/resolve-release.js";
import { pathDto } from "./paths.js";

export const resolveQuery = z.strictObject({
  sub: licenseSubject.describe(`the licensee (sub); "${ANONYMOUS_SUB}": an anonymous poll (ANONYMOUS_CHANNEL)`),
  channel: channelName.optional().describe("the licensee's channel (default: LICENSE_DEFAULT_CHANNEL, the channel of a license without a channel claim)"),
});

export const resolveDto = z.object({
  sub: z.string(),
  channel: z.string(),
  release: z.object({ id: z.string(), version: z.string() }),
  etag: z.string().describe("the ETag that licensee's poll answers now (quoted, as in the header)"),
  reasons: z.array(z.object({ rule: z.enum(RESOLVE_RULES), detail: z.string() })).describe("why, in order: the channel, the rollout's cohort, the upgrade path, the licensee's values"),
  path: pathDto.optional().describe("present when an upgrade path applies to the licensee's answer (docs/api.md §8)"),
});
export type ResolveDto = z.infer<typeof resolveDto>;
