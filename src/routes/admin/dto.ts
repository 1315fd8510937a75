// What the admin API answers: stored records as JSON (dates as ISO strings),
// with the zod schemas that document them in OpenAPI.
import { z } from "zod";
import type { Release } from "../../domain/schemas.js";
import type { ChannelView, PromotionResult } from "../../services/catalog-service.js";

export const releaseDto = z.object({
  id: z.string(),
  version: z.string(),
  chart: z.record(z.string(), z.unknown()),
  images: z.record(z.string(), z.unknown()),
  values: z.record(z.string(), z.unknown()),
  notes: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  yanked: z.boolean(),
  yankedAt: z.string().nullable(),
  yankedBy: z.string().nullable(),
  yankReason: z.string().nullable(),
});

export function toReleaseDto(r: Release): z.infer<typeof releaseDto> {
  return {
    id: r.id,
    version: r.version,
    chart: r.chart as Record<string, unknown>,
    images: r.images,
    values: r.values,
    notes: r.notes,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    yanked: r.yankedAt !== null,
    yankedAt: r.yankedAt?.toISOString() ?? null,
    yankedBy: r.yankedBy,
    yankReason: r.yankReason,
  };
}

const releaseRefDto = z.object({ id: z.string(), version: z.string(), yanked: z.boolean() }).nullable();

function ref(r: Release | null): z.infer<typeof releaseRefDto> {
  return r ? { id: r.id, version: r.version, yanked: r.yankedAt !== null } : null;
}

export const channelDto = z.object({
  name: z.string(),
  description: z.string(),
  defaultValues: z.record(z.string(), z.unknown()),
  release: releaseRefDto,
  rowVersion: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export function toChannelDto(c: ChannelView): z.infer<typeof channelDto> {
  return {
    name: c.name,
    description: c.description,
    defaultValues: c.defaultValues,
    release: ref(c.release),
    rowVersion: c.rowVersion,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
  };
}

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

export const promotionDto = z.object({
  changed: z.boolean(),
  message: z.string(),
  action: z.enum(["promote", "rollback"]).nullable(),
  channel: z.string(),
  from: releaseRefDto,
  to: releaseRefDto,
  event: eventDto.nullable(),
});

export function toPromotionDto(p: PromotionResult): z.infer<typeof promotionDto> {
  return {
    changed: p.changed,
    message: p.message,
    action: p.action,
    channel: p.channel,
    from: ref(p.from),
    to: ref(p.to),
    event: p.event
      ? {
          id: p.event.id,
          channel: p.channel,
          action: p.event.action,
          fromVersion: p.from?.version ?? null,
          toVersion: p.to.version,
          actor: p.event.actor,
          reason: p.event.reason,
          requestId: p.event.requestId,
          createdAt: p.event.createdAt.toISOString(),
        }
      : null,
  };
}

export const auditDto = z.object({
  id: z.number().int(),
  actor: z.string(),
  action: z.string(),
  targetType: z.string(),
  target: z.string(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
  createdAt: z.string(),
});

export function page<T extends z.ZodTypeAny>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable().describe("pass as ?cursor= for the next page; null on the last") });
}

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().max(200).optional(),
});

/**
 * A cursor this server could have issued (base64url of a sort key that
 * `check` accepts). Checked here so a forged cursor is a 400, never a
 * database error (a date the column cannot hold, an id beyond INT4).
 */
function cursorOf(check: (key: string) => boolean) {
  return z
    .string()
    .max(200)
    .refine(
      (c) => {
        const key = Buffer.from(c, "base64url").toString("utf8");
        return key !== "" && Buffer.from(key, "utf8").toString("base64url") === c && check(key);
      },
      { message: "is not a cursor this server issued" },
    );
}

/** Paging over an autoincrement id (history, audit): the id fits a 32-bit INT. */
export const idPageQuery = pageQuery.extend({
  cursor: cursorOf((k) => /^\d{1,10}$/.test(k) && Number(k) <= 2_147_483_647).optional(),
});

/** Paging over releases: the cursor is "<createdAt ISO>|<id>". */
export const releasePageQuery = pageQuery.extend({
  cursor: cursorOf((k) => {
    const [at = "", id, ...rest] = k.split("|");
    const d = new Date(at);
    return rest.length === 0 && !!id && id.length <= 128 && !Number.isNaN(d.getTime()) && d.toISOString() === at && d.getUTCFullYear() >= 1970 && d.getUTCFullYear() <= 9999;
  }).optional(),
});
