// POST /api/v1/admin/apply (docs/api.md §3): declarative channels and
// releases sent as JSON, applied exactly as `chartroom apply DIR` applies
// files (src/services/apply-channels.ts: the same plan, one transaction), so
// a CI job needs an admin token, not database credentials.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import { z } from "zod";
import type { Context } from "../../context.js";
import { DECLARATION_LIMITS } from "../../services/declaration-files.js";
import { channelFileSchema, declarationsOf, releaseFileSchema } from "../../services/apply-channels.js";
import { errorResponses } from "../openapi-shared.js";
import { actorOf } from "./catalog-routes.js";
import { patchOpDto } from "./dto/channels.js";

const security = [{ adminBearer: [] }];

/** The files of a directory, as JSON: at most as many as `chartroom apply` reads from one. */
export const applyInputSchema = z.strictObject({
  channels: z.array(channelFileSchema).max(DECLARATION_LIMITS.maxFiles).default([]).describe("the channel files' content (channels/<name>.yaml), each named <name>.yaml in messages"),
  releases: z.array(releaseFileSchema).max(DECLARATION_LIMITS.maxFiles).default([]).describe("the release files' content (channels/releases/<version>.yaml)"),
  dryRun: z.boolean().default(false).describe("answer the whole plan, every conflict and the values diffs; change nothing"),
});

/**
 * The JSON of a directory the file limits allow (16 MiB of YAML) can be
 * larger than its YAML: twice that, for this route only (admins only; the
 * token is checked before the body is read).
 */
export const APPLY_BODY_LIMIT = 2 * DECLARATION_LIMITS.maxTotalBytes;

export const applyDto = z.object({
  dryRun: z.boolean(),
  actor: z.string().describe("the audit actor: the token's sub"),
  steps: z.array(
    z.object({
      action: z.enum(["create-release", "mark-required", "create-channel", "update-channel", "move-channel", "start-rollout"]),
      target: z.string(),
      file: z.string(),
      detail: z.string(),
      valuesDiff: z.array(patchOpDto).optional().describe("RFC 6902, from the values the channel serves before the step to those it serves after"),
    }),
  ),
  notes: z.array(z.object({ target: z.string(), file: z.string(), detail: z.string() })).describe("what the plan says that changes nothing"),
  conflicts: z
    .array(z.object({ target: z.string(), file: z.string(), statusCode: z.number().int(), code: z.string(), field: z.string().optional(), message: z.string() }))
    .describe("a dry run's every refusal (a real apply fails with the first instead)"),
});
export type ApplyDto = z.infer<typeof applyDto>;

export async function applyRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();

  r.post("/apply", {
    bodyLimit: APPLY_BODY_LIMIT,
    config: { role: "admin" },
    schema: {
      tags: ["channels"], security, summary: "Apply declarative channels and releases (as chartroom apply DIR does)",
      description:
        "The body holds the content of the declarative files as JSON. Creates what is missing, updates channels, moves each channel to its declared `release` under the promotion rules and its policy (or starts its declared `rollout`), refuses what contradicts a stored release; all in one transaction, audited as the token's `sub`. A real apply fails with the first refusal and changes nothing; with `dryRun: true` nothing is written and the answer is the whole plan, every conflict and the values diffs.",
      body: applyInputSchema,
      response: { 200: applyDto, ...errorResponses(400, 401, 403, 404, 409, 413, 423, 503) },
    },
  }, async (req) => {
    const actor = actorOf(req);
    const result = await ctx.declarative.applyDeclarations(declarationsOf(req.body), actor, { dryRun: req.body.dryRun });
    req.log.info({ actor: actor.sub, dryRun: result.dryRun, steps: result.steps.length, conflicts: result.conflicts.length, requestId: req.id }, result.dryRun ? "apply planned" : "declarations applied");
    return { ...result, actor: actor.sub };
  });
}
