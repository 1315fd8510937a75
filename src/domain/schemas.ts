// The shapes of Chartroom's data, as zod schemas: request bodies, the
// declarative files of channels/, and what the repositories store. Types
// come from here (z.infer), never written twice.
import semver from "semver";
import { z } from "zod";
import { reconcileFrequencyProblem } from "./go-duration.js";
import { findValuesProblem, type Values } from "./values.js";

export const CHANNEL_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const channelName = z.string().regex(CHANNEL_NAME, "must match ^[a-z][a-z0-9-]{0,62}$");

/** A Helm values object: JSON, no prototype keys, at most 32 levels deep. */
export const valuesSchema: z.ZodType<Values> = z
  .record(z.string(), z.unknown())
  .superRefine((v, ctx) => {
    const problem = findValuesProblem(v);
    if (problem) ctx.addIssue({ code: "custom", message: problem.reason, path: problem.path.split(/\.|\[|\]/).filter(Boolean) });
  });

/**
 * Values a channel, release or licensee sets for the whole spec: as above,
 * and a top-level `reconcileFrequency` (the operator's poll interval) must
 * be a positive Go duration string of at least 1m (src/domain/go-duration.ts).
 * A `null` there is allowed: it removes a lower layer's setting.
 */
export const specValuesSchema: z.ZodType<Values> = valuesSchema.superRefine((v, ctx) => {
  if (!Object.prototype.hasOwnProperty.call(v, "reconcileFrequency") || v.reconcileFrequency === null) return;
  const reason = reconcileFrequencyProblem(v.reconcileFrequency);
  if (reason) ctx.addIssue({ code: "custom", message: reason, path: ["reconcileFrequency"] });
});

/** A strict SemVer 2 version, no leading "v" (Helm and the operator want it so). */
export const semverString = z
  .string()
  .max(128)
  .refine((v) => semver.valid(v) === v, { message: "must be a SemVer 2 version such as 1.2.3 (no leading v)" });

const chartName = z.string().regex(/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/, "must be a Helm chart name (lowercase letters, digits, - . _)");

function urlWithScheme(schemes: string[]) {
  const message = `must be a ${schemes.join(" or ")} URL with a host and no credentials`;
  return z
    .string()
    .max(2048)
    // The scheme tells the chart shapes apart: a wrong one aborts this branch
    // of the chart union, so the branch the caller meant explains the error
    // (an https chart without a name is "chart.name", not "not an oci URL").
    .refine((v) => schemes.some((s) => v.startsWith(`${s}://`)), { message, abort: true })
    .refine(
      (v) => {
        try {
          const u = new URL(v.replace(/^oci:/, "https:"));
          return u.hostname.length > 0 && !u.username && !u.password;
        } catch {
          return false;
        }
      },
      { message },
    );
}

/** Helm repository chart: the operator's RepoRelease. */
export const repoChart = z.strictObject({
  url: urlWithScheme(["https", "http"]),
  name: chartName,
  version: semverString,
});
/** OCI chart: the operator's OCIRelease. A version is required (a bare URL decodes to no chart). */
export const ociChart = z.strictObject({
  url: urlWithScheme(["oci"]),
  version: semverString,
});
/** Local chart: a path on the operator's own file system (air-gapped bundles). */
export const localChart = z.strictObject({
  path: z.string().min(1).max(1024),
});
export const chartSchema = z.union([localChart, ociChart, repoChart], {
  error: () => "must be one of {path}, {url: oci://…, version} or {url: https://…, name, version}",
});
export type Chart = z.infer<typeof chartSchema>;

export const componentName = z.string().regex(/^[a-zA-Z][a-zA-Z0-9_-]{0,62}$/, "must be a component name (letters, digits, - _)");

export const imageSchema = z
  .strictObject({
    repository: z.string().regex(/^[a-z0-9][a-z0-9._\-/:]{0,254}$/, "must be an image repository such as wandb/local or registry.example.com/app"),
    tag: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "must be an image tag").optional(),
    digest: z.string().regex(/^sha256:[a-f0-9]{64}$/, "must be sha256:<64 hex>").optional(),
  })
  .refine((i) => i.tag !== undefined || i.digest !== undefined, { message: "needs a tag or a digest", path: ["tag"] });
export type Image = z.infer<typeof imageSchema>;

export const imagesSchema = z.record(componentName, imageSchema);
export type Images = z.infer<typeof imagesSchema>;

export const releaseInputSchema = z.strictObject({
  version: semverString,
  chart: chartSchema,
  images: imagesSchema.default({}),
  values: specValuesSchema.default({}),
  notes: z.string().max(10_000).default(""),
});
export type ReleaseInput = z.infer<typeof releaseInputSchema>;

export const channelInputSchema = z.strictObject({
  name: channelName,
  description: z.string().max(1000).default(""),
  defaultValues: specValuesSchema.default({}),
});
export type ChannelInput = z.infer<typeof channelInputSchema>;

export const channelPatchSchema = z.strictObject({
  description: z.string().max(1000).optional(),
  defaultValues: specValuesSchema.optional(),
});
export type ChannelPatch = z.infer<typeof channelPatchSchema>;

/** A release reference: its id or its version. */
export const releaseRef = z.string().min(1).max(128);

export const promoteInputSchema = z.strictObject({
  release: releaseRef,
  from: channelName.optional(),
  expectedCurrent: releaseRef.nullable().optional(),
  allowDowngrade: z.boolean().default(false),
  reason: z.string().max(1000).optional(),
});
export type PromoteInput = z.infer<typeof promoteInputSchema>;

export const rollbackInputSchema = z.strictObject({
  to: releaseRef.optional(),
  reason: z.string().min(1).max(1000),
});
export type RollbackInput = z.infer<typeof rollbackInputSchema>;

export const yankInputSchema = z.strictObject({
  reason: z.string().min(1).max(1000),
});

/** A release as stored and as the services see it. */
export interface Release {
  id: string;
  version: string;
  chart: Chart;
  images: Images;
  values: Values;
  notes: string;
  createdBy: string;
  createdAt: Date;
  yankedAt: Date | null;
  yankedBy: string | null;
  yankReason: string | null;
}

export interface Channel {
  id: string;
  name: string;
  description: string;
  defaultValues: Values;
  releaseId: string | null;
  rowVersion: number;
  createdAt: Date;
  updatedAt: Date;
}
