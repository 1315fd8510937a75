// The fleet as the admin API answers it: one entry per licensee, and how
// many licensees were last served each release, per channel; each entry
// with its licensee's newest health report.
import { z } from "zod";
import { LICENSE_SUBJECT_MAX, REPORT_STATES, channelName, line } from "../../../domain/schemas.js";
import { CURSOR_REFUSED, decodeCursor } from "../../../domain/cursor.js";
import type { FleetService, FleetView } from "../../../services/fleet-service.js";
import { REPORT_HISTORY_MAX } from "../../../repositories/reports-repo.js";
import { pathDto, toPathDto } from "./paths.js";

/** The most entries one page of the fleet holds. */
export const FLEET_PAGE_MAX = 1000;

/**
 * Without `limit` the whole fleet, newest check-in first (what clients before
 * paging read); with it one page, by sub ascending, and `nextCursor`. A
 * cursor carries the last sub (src/domain/cursor.ts): base64url of up to
 * LICENSE_SUBJECT_MAX characters of UTF-8.
 */
export const fleetQuery = z
  .strictObject({
    channel: channelName.optional(),
    notSeenForHours: z.coerce.number().min(0).max(24 * 366).optional().describe("only licensees silent for at least this long"),
    q: line(LICENSE_SUBJECT_MAX, 1).optional().describe("only licensees whose sub contains this (ASCII letters in either case; % _ \\ match themselves)"),
    limit: z.coerce.number().int().min(1).max(FLEET_PAGE_MAX).optional().describe("page by sub ascending, at most this many entries, and answer nextCursor"),
    cursor: line(LICENSE_SUBJECT_MAX * 6, 0)
      .refine((c) => decodeCursor(c, "sub") !== undefined, { message: CURSOR_REFUSED })
      .optional()
      .describe("the nextCursor of the page before (needs limit)"),
    path: z.enum(["stepping-stone", "no-upgrade-path"]).optional().describe("only licensees on a stepping stone, or stuck with no upgrade path (docs/api.md §8)"),
  })
  .superRefine((q, ctx) => {
    if (q.cursor !== undefined && q.limit === undefined) ctx.addIssue({ code: "custom", path: ["cursor"], message: "needs limit" });
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
  path: pathDto.nullable().describe("its upgrade path when one applies on its channel (docs/api.md §8), else null"),
});
export type FleetEntryDto = z.infer<typeof fleetEntryDto>;

export const fleetDto = z.object({
  items: z.array(fleetEntryDto),
  distribution: z.record(z.string(), z.record(z.string(), z.number().int())).describe('channel → release version ("none" when no release was served) → licensees (of the whole filtered fleet, not of the page)'),
  nextCursor: z.string().nullable().optional().describe("with limit only: pass as ?cursor= for the next page; null on the last"),
});
export type FleetDto = z.infer<typeof fleetDto>;

export function toFleetEntryDto(i: FleetView["entries"][number]): FleetEntryDto {
  return {
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
    path: i.path && toPathDto(i.path),
  };
}

/** GET /fleet/:sub/reports: the licensee's last health reports, newest first. */
export const fleetReportsDto = z.object({
  items: z.array(
    z.object({
      state: z.enum(REPORT_STATES),
      releaseId: z.string(),
      releaseVersion: z.string().nullable(),
      channel: z.string().describe("the channel of the license the report was sent with"),
      message: z.string().nullable(),
      reportedAt: z.string(),
    }),
  ).describe(`at most the last ${REPORT_HISTORY_MAX} (older ones are deleted as new ones arrive); empty when the licensee never reported`),
});
export type FleetReportsDto = z.infer<typeof fleetReportsDto>;

export function toFleetReportsDto(items: Awaited<ReturnType<FleetService["reports"]>>): FleetReportsDto {
  return { items: items.map((r) => ({ ...r, reportedAt: r.reportedAt.toISOString() })) };
}

export function toFleetDto(f: FleetView): FleetDto {
  return {
    items: f.entries.map(toFleetEntryDto),
    distribution: f.distribution,
    ...(f.nextCursor !== undefined ? { nextCursor: f.nextCursor } : {}),
  };
}
