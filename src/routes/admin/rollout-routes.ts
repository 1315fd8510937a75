// Admin routes of rollouts (docs/api.md §7): the rollout of a channel, its
// list, and the controls. The rules live in src/services/rollout-rules.ts,
// the writes in src/services/rollout-service.ts; a rollout starts from a
// promotion with `rollout` (src/routes/admin/catalog-routes.ts).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import { z } from "zod";
import { channelName, rolloutAdvanceSchema, rolloutControlSchema } from "../../domain/schemas.js";
import { hasRole } from "../../admin/roles.js";
import type { Context } from "../../context.js";
import type { RolloutControl } from "../../services/rollout-rules.js";
import { errorResponses } from "../openapi-shared.js";
import { SMALL_BODY, actorOf } from "./catalog-routes.js";
import { pageQuery } from "./dto/paging.js";
import { rolloutControlDto, rolloutDto, rolloutPageDto, toRolloutDto } from "./dto/rollouts.js";
import { line } from "../../domain/schemas.js";
import { CURSOR_REFUSED, decodeCursor } from "../../domain/cursor.js";

const security = [{ adminBearer: [] }];
const nameParams = z.object({ name: channelName });
const rolloutPageQuery = pageQuery.extend({ cursor: line(200, 0).refine((c) => decodeCursor(c, "rollout") !== undefined, { message: CURSOR_REFUSED }).optional() });

const CONTROLS: Record<RolloutControl, string> = {
  pause: "Pause the channel's rollout: it holds its step (its cohort keeps the release) until resumed",
  resume: "Resume a paused or halted rollout (423 FROZEN during a freeze)",
  advance: "End the current step now (on the last step: complete the rollout); `force: true` (admin) skips failing gates; 423 FROZEN during a freeze",
  abort: "Abort the rollout: every licensee is back on the channel's release (history: rollback)",
};

export async function rolloutRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { rollouts } = ctx;

  r.get("/channels/:name/rollout", {
    config: { role: "viewer" },
    schema: {
      tags: ["rollouts"], security, summary: "The channel's active or last rollout, with counts over its fleet", params: nameParams,
      response: { 200: rolloutDto, ...errorResponses(401, 403, 404) },
    },
  }, async (req) => toRolloutDto(await rollouts.current(req.params.name)));

  r.get("/channels/:name/rollouts", {
    config: { role: "viewer" },
    schema: { tags: ["rollouts"], security, summary: "Every rollout of the channel, newest first", params: nameParams, querystring: rolloutPageQuery, response: { 200: rolloutPageDto, ...errorResponses(400, 401, 403, 404) } },
  }, async (req) => {
    const p = await rollouts.list(req.params.name, req.query);
    return { items: p.items.map(toRolloutDto), nextCursor: p.nextCursor };
  });

  for (const control of Object.keys(CONTROLS) as RolloutControl[]) {
    r.post(`/channels/:name/rollout/${control}`, {
      bodyLimit: SMALL_BODY,
      config: { role: "release-engineer" },
      schema: {
        tags: ["rollouts"], security, summary: CONTROLS[control], params: nameParams,
        body: control === "advance" ? rolloutAdvanceSchema : rolloutControlSchema,
        response: { 200: rolloutControlDto, ...errorResponses(400, 401, 403, 404, 409, 413, 423, 503) },
      },
    }, async (req) => {
      const body = req.body as { reason: string; force?: boolean };
      const out = await rollouts.control(req.params.name, control, body, { ...actorOf(req), isAdmin: hasRole(req.user.roles, "admin") });
      if (out.changed) req.log.info({ actor: req.user.sub, channel: req.params.name, control, rollout: out.rollout.id, state: out.rollout.state, step: out.rollout.step + 1, reason: body.reason, requestId: req.id }, `rollout ${control}`);
      return { changed: out.changed, message: out.message, rollout: toRolloutDto(out.rollout) };
    });
  }
}
