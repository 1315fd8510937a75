// Channels, their history and promotions as the admin API answers them.
import { z } from "zod";
import type { ChannelView, PromotionPreview, PromotionResult, YankResult } from "../../../services/catalog-service.js";
import { page } from "./paging.js";
import { releaseDto, releaseRefDto, toReleaseDto, toReleaseRef } from "./releases.js";
import { rolloutSummaryDto, toRolloutSummary } from "./rollouts.js";

export const channelDto = z.object({
  name: z.string(),
  description: z.string(),
  defaultValues: z.record(z.string(), z.unknown()),
  policy: z
    .object({
      upstream: z.string().optional().describe("releases reach this channel only as this channel's current release"),
      minSoak: z.string().optional().describe("and only after it has been the upstream's release this long"),
      downgradeRole: z.enum(["release-engineer", "admin"]).optional().describe("the role a move down needs (absent: release-engineer)"),
    })
    .describe("the promotion policy (docs/api.md §3); {} when the channel has none"),
  release: releaseRefDto,
  rollout: rolloutSummaryDto.describe("the active rollout (docs/api.md §7); null when there is none"),
  rowVersion: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type ChannelDto = z.infer<typeof channelDto>;

export const channelListDto = z.object({ items: z.array(channelDto) });
export type ChannelListDto = z.infer<typeof channelListDto>;

/** One change of a channel's release. */
export const eventDto = z.object({
  id: z.number().int(),
  channel: z.string(),
  action: z.string(),
  fromVersion: z.string().nullable(),
  toVersion: z.string().nullable(),
  actor: z.string(),
  reason: z.string().nullable(),
  requestId: z.string().nullable(),
  createdAt: z.string(),
});
export type EventDto = z.infer<typeof eventDto>;

export const historyPageDto = page(eventDto);
export type HistoryPageDto = z.infer<typeof historyPageDto>;

/** GET /channels/:name: the channel and its recent history. */
export const channelDetailDto = channelDto.extend({ history: z.array(eventDto) });
export type ChannelDetailDto = z.infer<typeof channelDetailDto>;

export const promotionDto = z.object({
  changed: z.boolean(),
  message: z.string(),
  action: z.enum(["promote", "rollback"]).nullable(),
  channel: z.string(),
  from: releaseRefDto,
  to: releaseRefDto,
  event: eventDto.nullable(),
});
export type PromotionDto = z.infer<typeof promotionDto>;

/** One RFC 6902 operation (JSON-pointer paths). */
export const patchOpDto = z.object({
  op: z.enum(["add", "remove", "replace", "move", "copy", "test"]),
  path: z.string(),
  from: z.string().optional(),
  value: z.unknown().optional(),
});

/** A promotion's or rollback's dry run (docs/api.md §7): nothing was changed. */
export const dryRunDto = z.object({
  dryRun: z.literal(true),
  message: z.string(),
  channel: z.string(),
  decision: z.object({
    action: z.enum(["promote", "rollback", "noop"]),
    from: releaseRefDto,
    to: releaseRefDto,
  }),
  affected: z.object({
    licensees: z.number().int(),
    byRelease: z.record(z.string(), z.number().int()),
  }),
  valuesDiff: z.array(patchOpDto),
  chartDiff: z.array(patchOpDto),
});
export type DryRunDto = z.infer<typeof dryRunDto>;

export function toChannelDto(c: ChannelView): ChannelDto {
  return {
    name: c.name,
    description: c.description,
    defaultValues: c.defaultValues,
    policy: c.policy,
    release: toReleaseRef(c.release),
    rollout: toRolloutSummary(c.rollout?.rollout, c.rollout?.version),
    rowVersion: c.rowVersion,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

/** A history entry as the catalog service gives it (versions resolved). */
export function toEventDto(e: Omit<EventDto, "createdAt"> & { createdAt: Date }): EventDto {
  return {
    id: e.id,
    channel: e.channel,
    action: e.action,
    fromVersion: e.fromVersion,
    toVersion: e.toVersion,
    actor: e.actor,
    reason: e.reason,
    requestId: e.requestId,
    createdAt: e.createdAt.toISOString(),
  };
}

export function toPromotionDto(p: PromotionResult): PromotionDto {
  return {
    changed: p.changed,
    message: p.message,
    action: p.action,
    channel: p.channel,
    from: toReleaseRef(p.from),
    to: toReleaseRef(p.to),
    event: p.event
      ? toEventDto({ ...p.event, channel: p.channel, fromVersion: p.from?.version ?? null, toVersion: p.to.version })
      : null,
  };
}

export function toDryRunDto(p: PromotionPreview): DryRunDto {
  return {
    dryRun: true,
    message: p.message,
    channel: p.channel,
    decision: { action: p.action, from: toReleaseRef(p.from), to: toReleaseRef(p.to) },
    affected: p.affected,
    valuesDiff: p.valuesDiff,
    chartDiff: p.chartDiff,
  };
}

/** POST /releases/:idOrVersion/yank: the release, and what still serves it (docs/api.md §3). */
export const yankDto = releaseDto.extend({
  serving: z.array(z.string()).describe("the channels whose release it still is: they serve it until promoted or rolled back (empty with rollback: true)"),
  rolledBack: z.array(promotionDto).describe("with rollback: true, each channel that served it, rolled back in the same transaction"),
  abortedRollouts: z.array(z.object({ channel: z.string(), rolloutId: z.string() })).describe("the rollouts of it the yank aborted: their licensees are back on the channel's release"),
});
export type YankDto = z.infer<typeof yankDto>;

export function toYankDto(y: YankResult): YankDto {
  return {
    ...toReleaseDto(y.release),
    serving: y.serving,
    rolledBack: y.rolledBack.map(toPromotionDto),
    abortedRollouts: y.abortedRollouts.map((a) => ({ channel: a.channel, rolloutId: a.rollout.id })),
  };
}
