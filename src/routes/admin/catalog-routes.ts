// Admin routes for channels and releases (docs/api.md §3). Each route maps the
// request onto one catalog service call; the rules live in the service.
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import { z } from "zod";
import {
  channelInputSchema,
  channelName,
  channelPatchSchema,
  promoteInputSchema,
  releaseInputSchema,
  releaseRef,
  rollbackInputSchema,
  yankInputSchema,
  requiredInputSchema,
} from "../../domain/schemas.js";
import type { Context } from "../../context.js";
import type { Actor } from "../../services/catalog-service.js";
import { errorResponses } from "../openapi-shared.js";
import { auditPageDto, auditQuery, toAuditDto } from "./dto/audit.js";
import { channelDetailDto, channelDto, channelListDto, dryRunDto, historyPageDto, promotionDto, toChannelDto, toDryRunDto, toEventDto, toPromotionDto, toYankDto, yankDto } from "./dto/channels.js";
import { idPageQuery, releasePageQuery } from "./dto/paging.js";
import { createdReleaseDto, releaseDto, releasePageDto, toReleaseDto } from "./dto/releases.js";
import { rolloutDto, toRolloutDto } from "./dto/rollouts.js";

export function actorOf(req: FastifyRequest): Actor {
  return { sub: req.user.sub, requestId: req.id, roles: req.user.roles };
}

const security = [{ adminBearer: [] }];
/** Bodies that are a few fields: anything larger is a mistake or an attack (413). */
export const SMALL_BODY = 16 * 1024;
const nameParams = z.object({ name: channelName });
const DRY_RUN =
  "With `dryRun: true` nothing is written: the answer is the decision (`promote`, `rollback` or `noop`), the fleet licensees of the channel by the release each was last served, and RFC 6902 diffs (`valuesDiff`, `chartDiff`) from what the channel serves now to what it would serve; a refused move is refused exactly as without `dryRun`.";
const refParams = z.object({ idOrVersion: releaseRef });

export async function catalogRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { catalog, audit } = ctx;

  r.get("/channels", {
    config: { role: "viewer" },
    schema: { tags: ["channels"], security, summary: "Channels, each with its current release", response: { 200: channelListDto, ...errorResponses(401, 403) } },
  }, async () => ({ items: (await catalog.listChannels()).map(toChannelDto) }));

  r.post("/channels", {
    config: { role: "admin" },
    schema: { tags: ["channels"], security, summary: "Create a channel", body: channelInputSchema, response: { 201: channelDto, ...errorResponses(400, 401, 403, 409, 413) } },
  }, async (req, reply) => {
    const c = await catalog.createChannel(req.body, actorOf(req));
    reply.code(201);
    return toChannelDto({ ...c, release: null });
  });

  r.get("/channels/:name", {
    config: { role: "viewer" },
    schema: {
      tags: ["channels"], security, summary: "A channel, its release and recent history", params: nameParams,
      response: { 200: channelDetailDto, ...errorResponses(401, 403, 404) },
    },
  }, async (req) => {
    const c = await catalog.getChannel(req.params.name);
    const history = await catalog.history(req.params.name, { limit: 10 });
    return { ...toChannelDto(c), history: history.items.map(toEventDto) };
  });

  r.patch("/channels/:name", {
    config: { role: "admin" },
    schema: { tags: ["channels"], security, summary: "Change a channel's description or default values", params: nameParams, body: channelPatchSchema, response: { 200: channelDto, ...errorResponses(400, 401, 403, 404, 413) } },
  }, async (req) => {
    await catalog.updateChannel(req.params.name, req.body, actorOf(req));
    return toChannelDto(await catalog.getChannel(req.params.name));
  });

  r.post("/channels/:name/promote", {
    bodyLimit: SMALL_BODY,
    config: { role: "release-engineer" },
    schema: {
      tags: ["channels"], security, summary: "Promote a release to a channel", params: nameParams, body: promoteInputSchema,
      description: `Rules: the release exists and is not yanked; with \`from\` it must be that channel's release; \`expectedCurrent\` must match (409 PROMOTION_CONFLICT); a lower version needs \`allowDowngrade\` (recorded as a rollback); the channel's \`policy\` (409 POLICY_REFUSED): with \`upstream\` a move up takes only that channel's current release (\`from\` implied, another \`from\` refused), with \`minSoak\` only once it has been the upstream's that long, and a move down needs \`downgradeRole\`; promoting the current release is a 200 with changed=false; while the channel has an active rollout every promotion is a 409 ROLLOUT_IN_PROGRESS; during a freeze a 423 FROZEN. With \`rollout\` the release reaches the channel's licensees in steps: 202 with the rollout, and the channel's release moves when its last step ends. ${DRY_RUN}`,
      response: { 200: z.union([promotionDto, dryRunDto]), 202: rolloutDto, ...errorResponses(400, 401, 403, 404, 409, 413, 423, 503) },
    },
  }, async (req, reply) => {
    if (req.body.dryRun) return toDryRunDto(await catalog.previewPromote(req.params.name, req.body, actorOf(req)));
    const result = await catalog.promote(req.params.name, req.body, actorOf(req));
    if (!result.rollout) return toPromotionDto(result);
    req.log.info({ actor: req.user.sub, channel: result.channel, release: result.to.version, rollout: result.rollout.id, steps: result.rollout.steps, requestId: req.id }, "rollout started");
    reply.code(202);
    return toRolloutDto(await ctx.rollouts.viewOfStarted(req.params.name, result.rollout));
  });

  r.post("/channels/:name/rollback", {
    bodyLimit: SMALL_BODY,
    config: { role: "release-engineer" },
    schema: {
      tags: ["channels"], security, summary: "Roll a channel back (default: to the release before the current one)", params: nameParams, body: rollbackInputSchema,
      description: `A rollback is a move down: the channel's policy \`downgradeRole\` (default release-engineer) is the role it needs (409 POLICY_REFUSED); \`upstream\` and \`minSoak\` do not bind it. ${DRY_RUN}`,
      response: { 200: z.union([promotionDto, dryRunDto]), ...errorResponses(400, 401, 403, 404, 409, 503) },
    },
  }, async (req) =>
    req.body.dryRun ? toDryRunDto(await catalog.previewRollback(req.params.name, req.body, actorOf(req))) : toPromotionDto(await catalog.rollback(req.params.name, req.body, actorOf(req))));

  r.get("/channels/:name/history", {
    config: { role: "viewer" },
    schema: { tags: ["channels"], security, summary: "Every change of the channel's release, newest first", params: nameParams, querystring: idPageQuery, response: { 200: historyPageDto, ...errorResponses(400, 401, 403, 404) } },
  }, async (req) => {
    const h = await catalog.history(req.params.name, req.query);
    return { items: h.items.map(toEventDto), nextCursor: h.nextCursor };
  });

  r.post("/releases", {
    config: { role: "release-engineer" },
    schema: {
      tags: ["releases"], security, summary: "Create an immutable release", body: releaseInputSchema,
      description: "`warnings` lists what is stored but not served as written: each `null` in `values` (VALUES_NULL) removes that key from the channel's default values and is never served.",
      response: { 201: createdReleaseDto, ...errorResponses(400, 401, 403, 409, 413) },
    },
  }, async (req, reply) => {
    const { release, warnings } = await catalog.createRelease(req.body, actorOf(req));
    if (warnings.length > 0) req.log.warn({ release: release.version, warnings: warnings.map((w) => w.field), requestId: req.id }, "release created with null values: they are not served, each removes a key from the layers below");
    reply.code(201);
    return { ...toReleaseDto(release), warnings };
  });

  r.get("/releases", {
    config: { role: "viewer" },
    schema: { tags: ["releases"], security, summary: "Releases, newest first", querystring: releasePageQuery, response: { 200: releasePageDto, ...errorResponses(400, 401, 403) } },
  }, async (req) => {
    const p = await catalog.listReleases(req.query);
    return { items: p.items.map(toReleaseDto), nextCursor: p.nextCursor };
  });

  r.get("/releases/:idOrVersion", {
    config: { role: "viewer" },
    schema: { tags: ["releases"], security, summary: "One release, by id or version", params: refParams, response: { 200: releaseDto, ...errorResponses(401, 403, 404) } },
  }, async (req) => toReleaseDto(await catalog.getRelease(req.params.idOrVersion)));

  r.post("/releases/:idOrVersion/yank", {
    bodyLimit: SMALL_BODY,
    config: { role: "release-engineer" },
    schema: {
      tags: ["releases"], security, summary: "Yank a release: never promoted or pinned again", params: refParams, body: yankInputSchema,
      description: "A rollout of the release is aborted. The channels whose release it is keep serving it and are listed in `serving`; with `rollback: true` each of them is rolled back (as `POST /channels/:name/rollback` without `to`, under its policy's downgradeRole) in the same transaction, listed in `rolledBack`: if one cannot be, nothing is changed (409 naming `rollback`).",
      response: { 200: yankDto, ...errorResponses(400, 401, 403, 404, 409) },
    },
  }, async (req) => {
    const y = await catalog.yankRelease(req.params.idOrVersion, req.body, actorOf(req));
    req.log.info({ actor: req.user.sub, release: y.release.version, serving: y.serving, rolledBack: y.rolledBack.map((m) => m.channel), abortedRollouts: y.abortedRollouts.map((a) => a.rollout.id), requestId: req.id }, "release yanked");
    return toYankDto(y);
  });

  r.post("/releases/:idOrVersion/required", {
    bodyLimit: SMALL_BODY,
    config: { role: "release-engineer" },
    schema: {
      tags: ["releases"], security,
      summary: "Mark or unmark a release required: a stepping stone installations pass through",
      description: "docs/api.md §8: a licensee whose installed version is below its target is served the lowest required release on the way first, and moves on after a healthy report on it or STEPPING_STONE_SOAK without a failed one. Audited (release.required); the only mutable property of a release besides yank. Setting what is already set changes nothing (changed=false).",
      params: refParams,
      body: requiredInputSchema,
      response: { 200: releaseDto.extend({ changed: z.boolean() }), ...errorResponses(400, 401, 403, 404) },
    },
  }, async (req) => {
    const { release, changed } = await catalog.setRequired(req.params.idOrVersion, req.body, actorOf(req));
    return { ...toReleaseDto(release), changed };
  });

  r.get("/audit", {
    config: { role: "viewer" },
    schema: {
      tags: ["audit"], security, summary: "Every admin mutation, newest first",
      querystring: auditQuery,
      response: { 200: auditPageDto, ...errorResponses(400, 401, 403) },
    },
  }, async (req) => {
    const { limit, cursor, ...filter } = req.query;
    const p = await audit.list({ limit, cursor }, filter);
    return { items: p.items.map(toAuditDto), nextCursor: p.nextCursor };
  });
}
