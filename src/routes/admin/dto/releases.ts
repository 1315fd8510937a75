// Releases as the admin API answers them (dates as ISO strings).
import { z } from "zod";
import type { Release } from "../../../domain/schemas.js";
import { page } from "./paging.js";

/** An image as stored (validated on input by the domain's imageSchema). */
const imageDto = z.object({ repository: z.string(), tag: z.string().optional(), digest: z.string().optional() });

export const releaseDto = z.object({
  id: z.string(),
  version: z.string(),
  chart: z.record(z.string(), z.unknown()),
  images: z.record(z.string(), imageDto),
  values: z.record(z.string(), z.unknown()),
  notes: z.string(),
  createdBy: z.string(),
  createdAt: z.string(),
  yanked: z.boolean(),
  yankedAt: z.string().nullable(),
  yankedBy: z.string().nullable(),
  yankReason: z.string().nullable(),
  required: z.boolean().describe("a stepping stone installations pass through (docs/api.md §8; POST /releases/:ref/required)"),
  requiredReason: z.string().nullable(),
  requiredBy: z.string().nullable(),
  requiredAt: z.string().nullable(),
  upgradeFrom: z.string().nullable().describe("the semver range of installed versions it installs over directly (null: any); set at creation"),
});
export type ReleaseDto = z.infer<typeof releaseDto>;

/** What a caller should know about a stored change (the change succeeded). */
export const warningDto = z.object({
  code: z.enum(["VALUES_NULL"]).describe("VALUES_NULL: a null in the values; it is never served, it removes the key from the layers below"),
  field: z.string().describe("where, e.g. values.global.bucket.kmsKey"),
  message: z.string(),
});

/** The 201 answer of release creation: the release and any warnings (empty when none). */
export const createdReleaseDto = releaseDto.extend({ warnings: z.array(warningDto) });
export type CreatedReleaseDto = z.infer<typeof createdReleaseDto>;

export const releasePageDto = page(releaseDto);
export type ReleasePageDto = z.infer<typeof releasePageDto>;

/** A release named inside another answer (a channel's, a promotion's). */
export const releaseRefDto = z.object({ id: z.string(), version: z.string(), yanked: z.boolean() }).nullable();
export type ReleaseRefDto = z.infer<typeof releaseRefDto>;

export function toReleaseDto(r: Release): ReleaseDto {
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
    required: r.required,
    requiredReason: r.requiredReason,
    requiredBy: r.requiredBy,
    requiredAt: r.requiredAt?.toISOString() ?? null,
    upgradeFrom: r.upgradeFrom,
  };
}

export function toReleaseRef(r: Release | null): ReleaseRefDto {
  return r ? { id: r.id, version: r.version, yanked: r.yankedAt !== null } : null;
}
