// The fleet as the admin API answers it: one entry per licensee, and how
// many licensees were last served each release, per channel; each entry
// with its licensee's newest health report.
import { z } from "zod";
import { REPORT_STATES, channelName } from "../../../domain/schemas.js";
import type { FleetView } from "../../../services/fleet-service.js";

export const fleetQuery = z.strictObject({
  channel: channelName.optional(),
  notSeenForHours: z.coerce.number().min(0).max(24 * 366).optional().describe("only licensees silent for at least this long"),
});

export const fleetEntryDto = z.object({
  sub: z.string(),
  channel: z.string(),
  releaseId: z.string().nullable(),
  releaseVersion: z.string().nullable(),
  jti: z.string().nullable(),
  userAgent: z.string().nullable(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  pollCount: z.number().int(),
  licenseExpiresAt: z.string().nullable(),
  licenseExpired: z.boolean(),
  licenseRevoked: z.boolean(),
  anonymous: z.boolean().describe('the one entry of every poll without a license (ANONYMOUS_CHANNEL); its sub is "(anonymous)"'),
  report: z
    .object({
      state: z.enum(REPORT_STATES),
      releaseId: z.string(),
      releaseVersion: z.string().nullable(),
      message: z.string().nullable(),
      reportedAt: z.string(),
    })
    .nullable()
    .describe("the licensee's newest health report (POST /api/v1/operator/report, docs/api.md §9), or null"),
});
export type FleetEntryDto = z.infer<typeof fleetEntryDto>;

export const fleetDto = z.object({
  items: z.array(fleetEntryDto),
  distribution: z.record(z.string(), z.record(z.string(), z.number().int())).describe('channel → release version ("none" when no release was served) → licensees'),
});
export type FleetDto = z.infer<typeof fleetDto>;

export function toFleetDto(f: FleetView): FleetDto {
  return {
    items: f.entries.map((i) => ({
      sub: i.sub,
      channel: i.channel,
      releaseId: i.releaseId,
      releaseVersion: i.releaseVersion,
      jti: i.jti,
      userAgent: i.userAgent,
      firstSeenAt: i.firstSeenAt.toISOString(),
      lastSeenAt: i.lastSeenAt.toISOString(),
      pollCount: i.pollCount,
      licenseExpiresAt: i.licenseExpiresAt?.toISOString() ?? null,
      licenseExpired: i.licenseExpired,
      licenseRevoked: i.licenseRevoked,
      anonymous: i.anonymous,
      report: i.report && { ...i.report, reportedAt: i.report.reportedAt.toISOString() },
    })),
    distribution: f.distribution,
  };
}
