// The shapes of Chartroom's data, as zod schemas: request bodies, the
// declarative files of channels/, and what the repositories store. Types
// come from here (z.infer), never written twice.
import semver from "semver";
import { z } from "zod";
import { reconcileFrequencyProblem } from "./go-duration.js";
import { parseBake } from "./bake.js";
import { parseComparison, parseGateTimeout } from "./gate-spec.js";
import { outboundUrlProblem } from "../services/outbound-url.js";
import { FORBIDDEN_KEYS, findValuesProblem, type Values } from "./values.js";
import { textProblem, type TextKind } from "./text.js";

/**
 * A string whose characters pass the rule of src/domain/text.ts. Every
 * string of every input schema starts here (values trees: findValuesProblem),
 * so no field can hold what a database cannot store; test/routes/admin/strings.test.ts
 * walks the route schemas and proves it. The check comes first and stops
 * the others: the answer names the character, not a pattern it broke.
 */
function checked(kind: TextKind) {
  return z.string().superRefine((s, ctx) => {
    const problem = textProblem(s, kind);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: s, continue: false });
  });
}

/** A one-line string (names, references, URLs, paths, query filters, identifiers): no control characters. */
export function line(max: number, min = 1) {
  return checked("line").min(min).max(max);
}

/** Free text (descriptions, notes, reasons): tab and line breaks allowed, no other control character. */
export function text(max: number, min = 0) {
  return checked("multiline").min(min).max(max);
}

/** A one-line string that must match `pattern` (the pattern alone bounds its length). */
export function pattern(re: RegExp, message: string) {
  return checked("line").regex(re, message);
}

export const CHANNEL_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export const channelName = pattern(CHANNEL_NAME, "must match ^[a-z][a-z0-9-]{0,62}$");

/**
 * The identifiers of a license, one rule for every place that meets them:
 * the verifier's claim checks (src/licensing/verify-license.ts), the admin
 * routes' path parameters (/licenses/:jti/revoke, /licenses/:sub/values)
 * and bodies, and the router's longest path parameter (src/app.ts). Any
 * character but a control character (spaces and "/" included: a sub with
 * a "/" is sent URL-encoded, %2F), at most 256 UTF-16 units.
 */
export const LICENSE_SUBJECT_MAX = 256;
export const LICENSE_ID_MAX = 256;
export const licenseSubject = line(LICENSE_SUBJECT_MAX).describe("the licensee (sub)");
export const licenseId = line(LICENSE_ID_MAX).describe("the license id (jti)");

/**
 * Why a claim is not an identifier of this schema (licenseSubject,
 * licenseId), or undefined: the verifier's check, in the schema's words.
 */
export function identifierProblem(schema: z.ZodType<string>, v: unknown): string | undefined {
  if (typeof v !== "string") return "must be a string";
  const r = schema.safeParse(v);
  if (r.success) return undefined;
  const issue = r.error.issues[0]!;
  if (issue.code === "too_small") return "must not be empty";
  if (issue.code === "too_big") return `must be at most ${String(issue.maximum)} characters long`;
  return issue.message;
}

/** The longest release reference: an id or a version. */
export const RELEASE_REF_MAX = 128;

/**
 * The router's longest path parameter (fastify's maxParamLength), counted
 * like the schemas count (decoded, UTF-16 units): every identifier a
 * schema accepts reaches its route; a longer one is a 414.
 */
export const MAX_PATH_PARAM_LENGTH = Math.max(LICENSE_SUBJECT_MAX, LICENSE_ID_MAX, RELEASE_REF_MAX, 63);

/** A Helm values object: JSON, no prototype keys, at most 32 levels deep. */
export const valuesSchema: z.ZodType<Values> = z
  // Keys and strings at every depth are checked by findValuesProblem (the "stored" rule of src/domain/text.ts).
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
export const semverString = line(128)
  .refine((v) => semver.valid(v) === v, { message: "must be a SemVer 2 version such as 1.2.3 (no leading v)" });

/**
 * A semver range of installed versions a release installs over directly
 * (docs/api.md §8 `upgradeFrom`), as node-semver reads ranges: ">=0.58.0",
 * "^0.59.0 || ^0.60.0", "0.58.x". Refused when semver cannot read it, or
 * when it admits no version at all (a floor that excludes everything is a
 * typo, never a policy).
 */
export const upgradeFromRange = line(256).superRefine((v, ctx) => {
  const range = semver.validRange(v);
  if (range === null) ctx.addIssue({ code: "custom", message: 'must be a semver range such as ">=0.58.0" or "^0.59.0 || ^0.60.0"' });
  else if (semver.minVersion(range) === null) ctx.addIssue({ code: "custom", message: `admits no version at all (${JSON.stringify(v)})` });
});

const chartName = pattern(/^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$/, "must be a Helm chart name (lowercase letters, digits, - . _)");

function urlWithScheme(schemes: string[]) {
  const message = `must be a ${schemes.join(" or ")} URL with a host and no credentials`;
  return line(2048)
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
  path: line(1024),
});
export const chartSchema = z.union([localChart, ociChart, repoChart], {
  error: () => "must be one of {path}, {url: oci://…, version} or {url: https://…, name, version}",
});
export type Chart = z.infer<typeof chartSchema>;

export const componentName = pattern(/^[a-zA-Z][a-zA-Z0-9_-]{0,62}$/, "must be a component name (letters, digits, - _)")
  // The spec merges images into values, which skip these keys: refused, never dropped.
  .refine((k) => !FORBIDDEN_KEYS.has(k), { message: "is not allowed (prototype key)" });

export const imageSchema = z
  .strictObject({
    repository: pattern(/^[a-z0-9][a-z0-9._\-/:]{0,254}$/, "must be an image repository such as wandb/local or registry.example.com/app"),
    tag: pattern(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/, "must be an image tag").optional(),
    digest: pattern(/^sha256:[a-f0-9]{64}$/, "must be sha256:<64 hex>").optional(),
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
  notes: text(10_000).default(""),
  upgradeFrom: upgradeFromRange.optional(),
});
export type ReleaseInput = z.infer<typeof releaseInputSchema>;

/** The roles a channel's policy may ask a downgrade to need (a downgrade always needs release-engineer: the promote and rollback routes do). */
export const DOWNGRADE_ROLES = ["release-engineer", "admin"] as const;

/**
 * A channel's promotion policy (docs/api.md §3): where its releases come
 * from (`upstream`), how long they must have been the upstream's release
 * first (`minSoak`, a duration like a rollout step's bake: 30s, 15m, 2h,
 * 3d), and the role a move down needs (`downgradeRole`). The rules are in
 * src/services/promotion-rules.ts.
 */
export const channelPolicySchema = z
  .strictObject({
    upstream: channelName.optional(),
    minSoak: pattern(/^\d+(s|m|h|d)$/, "must be a duration such as 30s, 15m, 2h or 3d")
      .refine((b) => parseBake(b) !== undefined, { message: "must be at most 365d" })
      .optional(),
    downgradeRole: z.enum(DOWNGRADE_ROLES, { error: () => `must be one of ${DOWNGRADE_ROLES.join(", ")}` }).optional(),
  })
  .superRefine((p, ctx) => {
    if (p.minSoak !== undefined && p.upstream === undefined) ctx.addIssue({ code: "custom", path: ["minSoak"], message: "needs upstream: minSoak is how long a release must have been the upstream channel's release" });
  });
export type ChannelPolicy = z.infer<typeof channelPolicySchema>;

export const channelInputSchema = z.strictObject({
  name: channelName,
  description: text(1000).default(""),
  defaultValues: specValuesSchema.default({}),
  /** No policy: any release may be promoted to the channel (`from` checked only when given). */
  policy: channelPolicySchema.default({}),
});
export type ChannelInput = z.infer<typeof channelInputSchema>;

export const channelPatchSchema = z.strictObject({
  description: text(1000).optional(),
  defaultValues: specValuesSchema.optional(),
  /** Replaces the whole policy; `{}` removes it. */
  policy: channelPolicySchema.optional(),
});
export type ChannelPatch = z.infer<typeof channelPatchSchema>;

/** Why a change was made (rollback, yank, revoke): required, free text. */
export const reasonText = text(1000, 1);

/** A release reference: its id or its version. */
export const releaseRef = line(RELEASE_REF_MAX);

/** Steps, include and exclude lists of a rollout: bounds that keep a rollout row small. */
export const ROLLOUT_MAX_STEPS = 20;
export const ROLLOUT_MAX_LIST = 1000;

/** At most this many gates on a rollout, and on each step: every one is evaluated at every tick. */
export const ROLLOUT_MAX_GATES = 10;

/**
 * A URL Chartroom calls (a gate's): http or https, no credentials
 * (src/services/outbound-url.ts). OUTBOUND_DENY_PRIVATE is the server's
 * setting, checked where the rollout starts (src/services/catalog-service.ts)
 * and at every connection.
 */
const outboundUrl = line(2000).superRefine((u, ctx) => {
  const problem = outboundUrlProblem(u, false);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** Health gates (docs/api.md §9): when a rollout's step may end, and when the rollout fails. */
export const reportsGateSchema = z.strictObject({
  kind: z.literal("reports"),
  minHealthy: z.number().int().min(0).max(1_000_000),
  maxFailedRatio: z.number().min(0).max(1),
  minSamples: z.number().int().min(1).max(1_000_000).optional(),
});
export const webhookGateSchema = z.strictObject({
  kind: z.literal("webhook"),
  url: outboundUrl,
  timeout: pattern(/^\d+(ms|s)$/, "must be a duration such as 500ms or 5s")
    .refine((v) => parseGateTimeout(v) !== undefined, { message: "must be from 1ms to 60s" })
    .optional(),
});
export const prometheusGateSchema = z.strictObject({
  kind: z.literal("prometheus"),
  url: outboundUrl,
  query: text(4000, 1),
  pass: line(100).refine((v) => parseComparison(v) !== undefined, { message: 'must be an operator (<, <=, >, >=, ==, !=) and a number, such as "< 0.05" or ">= 0.99"' }),
});
export const gateSchema = z.discriminatedUnion("kind", [reportsGateSchema, webhookGateSchema, prometheusGateSchema], {
  error: (i) => (i.code === "invalid_union" ? 'must be one of "reports", "webhook", "prometheus"' : undefined),
});
export type GateSpec = z.infer<typeof gateSchema>;
export const gatesSchema = z.array(gateSchema).max(ROLLOUT_MAX_GATES);

export const rolloutStepSchema = z.strictObject({
  percent: z.number().int().min(0).max(100),
  bake: pattern(/^\d+(s|m|h|d)$/, "must be a duration such as 30s, 15m, 2h or 3d")
    .refine((b) => parseBake(b) !== undefined, { message: "must be at most 365d" })
    .default("0s"),
  /** This step's own gates, after the rollout's (docs/api.md §9). */
  gates: gatesSchema.optional(),
});
export type RolloutStep = z.infer<typeof rolloutStepSchema>;
/** A step as a rollout keeps it: its bake resolved; its gates, if any (rows from before gates have none). */
export interface StoredRolloutStep {
  percent: number;
  bake: string;
  gates?: GateSpec[];
}

/** The `rollout` of a promotion (docs/api.md §7): how the release reaches the channel's licensees in steps. */
export const rolloutInputSchema = z
  .strictObject({
    steps: z.array(rolloutStepSchema).min(1).max(ROLLOUT_MAX_STEPS),
    include: z.array(licenseSubject).max(ROLLOUT_MAX_LIST).default([]),
    exclude: z.array(licenseSubject).max(ROLLOUT_MAX_LIST).default([]),
    salt: line(200).optional(),
    /** Gates of every step (docs/api.md §9). */
    gates: gatesSchema.default([]),
    /** What a failed gate does: halt (a person resumes or aborts) or rollback (abort at once). */
    onFailure: z.enum(["halt", "rollback"]).default("halt"),
  })
  .superRefine((r, ctx) => {
    r.steps.forEach((s, i) => {
      const before = r.steps[i - 1];
      if (before && s.percent <= before.percent) ctx.addIssue({ code: "custom", path: ["steps", i, "percent"], message: `must be greater than the step before (${before.percent}): percent only rises` });
    });
    const last = r.steps[r.steps.length - 1];
    if (last && last.percent !== 100) ctx.addIssue({ code: "custom", path: ["steps", r.steps.length - 1, "percent"], message: "the last step must be 100: a rollout ends with every licensee on the release" });
  });
export type RolloutInput = z.infer<typeof rolloutInputSchema>;

export const promoteInputSchema = z.strictObject({
  release: releaseRef,
  from: channelName.optional(),
  expectedCurrent: releaseRef.nullable().optional(),
  allowDowngrade: z.boolean().default(false),
  reason: text(1000).optional(),
  /** Answer what the promotion would do, change nothing (docs/api.md §7). */
  dryRun: z.boolean().default(false),
  /** Reach the channel's licensees in steps instead of all at once (docs/api.md §7). */
  rollout: rolloutInputSchema.optional(),
});
export type PromoteInput = z.infer<typeof promoteInputSchema>;

export const rollbackInputSchema = z.strictObject({
  to: releaseRef.optional(),
  reason: reasonText,
  /** Answer what the rollback would do, change nothing (docs/api.md §7). */
  dryRun: z.boolean().default(false),
});
export type RollbackInput = z.infer<typeof rollbackInputSchema>;

/** A control of a rollout (pause, resume, abort): why, for the audit log. */
export const rolloutControlSchema = z.strictObject({
  reason: reasonText,
});

/** Advance: end the current step now; `force` skips its gates and needs the admin role. */
export const rolloutAdvanceSchema = z.strictObject({
  reason: reasonText,
  force: z.boolean().default(false),
});

export const yankInputSchema = z.strictObject({
  reason: reasonText,
  /** Roll back every channel whose release it is, in the same transaction (docs/api.md §3). */
  rollback: z.boolean().default(false),
});
export type YankInput = z.infer<typeof yankInputSchema>;

/** POST /releases/:ref/required (docs/api.md §8): mark or unmark a stepping stone. */
export const requiredInputSchema = z.strictObject({
  required: z.boolean(),
  reason: reasonText,
});
export type RequiredInput = z.infer<typeof requiredInputSchema>;

/** The states an installation reports (docs/api.md §9). */
export const REPORT_STATES = ["applying", "healthy", "degraded", "failed"] as const;
export const reportState = z.enum(REPORT_STATES, { error: () => `must be one of ${REPORT_STATES.join(", ")}` });
export type ReportState = z.infer<typeof reportState>;
export const REPORT_MESSAGE_MAX = 1024;

/** A health report from an installation: POST /api/v1/operator/report (docs/api.md §9). */
export const reportInputSchema = z.strictObject({
  release: releaseRef.describe("the release the installation runs: its id or version"),
  state: reportState,
  message: text(REPORT_MESSAGE_MAX).optional().describe("what the installation says about it (tab and line breaks allowed)"),
});
export type ReportInput = z.infer<typeof reportInputSchema>;

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
  /** A stepping stone installations pass through (docs/api.md §8). */
  required: boolean;
  requiredReason: string | null;
  requiredBy: string | null;
  requiredAt: Date | null;
  /** The semver range of installed versions it installs over directly; null: any. */
  upgradeFrom: string | null;
}

export interface Channel {
  id: string;
  name: string;
  description: string;
  defaultValues: Values;
  /** Its promotion policy; `{}` when it has none. */
  policy: ChannelPolicy;
  releaseId: string | null;
  rowVersion: number;
  createdAt: Date;
  updatedAt: Date;
}
