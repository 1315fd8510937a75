// Admin routes of the freeze (stop the line, docs/api.md §7): the rules
// live in src/services/freeze-service.ts.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import { z } from "zod";
import { line, reasonText } from "../../domain/schemas.js";
import type { Context } from "../../context.js";
import { errorResponses } from "../openapi-shared.js";
import { SMALL_BODY, actorOf } from "./catalog-routes.js";
import { freezeDto, toFreezeDto } from "./dto/freeze.js";

const security = [{ adminBearer: [] }];
const isoDateTime = z.iso.datetime({ offset: true });
/** An ISO 8601 date-time with a time zone; that it lies ahead is the service's rule (the server's clock). */
const until = line(64).refine((s) => isoDateTime.safeParse(s).success, { message: "must be an ISO 8601 date-time with a time zone, e.g. 2027-01-31T18:00:00Z" });

export async function freezeRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { freeze } = ctx;

  r.get("/freeze", {
    config: { role: "viewer" },
    schema: { tags: ["freeze"], security, summary: "Whether promotions are frozen (stop the line), why, by whom, until when", response: { 200: freezeDto, ...errorResponses(401, 403) } },
  }, async () => toFreezeDto(await freeze.status()));

  r.put("/freeze", {
    bodyLimit: SMALL_BODY,
    config: { role: "admin" },
    schema: {
      tags: ["freeze"], security, summary: "Freeze promotions on every replica (stop the line)",
      description: "While frozen, promotions (and an apply that would move a channel) are a 423 FROZEN naming the reason; rollbacks, yanks, revocations and everything else go on. With `until` the freeze ends by itself then. A second PUT changes the reason and `until`.",
      body: z.strictObject({ reason: reasonText, until: until.optional() }),
      response: { 200: freezeDto, ...errorResponses(400, 401, 403, 413, 503) },
    },
  }, async (req) => {
    const f = await freeze.freeze(req.body, actorOf(req));
    req.log.warn({ actor: req.user.sub, reason: f.reason, until: f.until, requestId: req.id }, "promotions frozen (stop the line)");
    return toFreezeDto(f);
  });

  r.delete("/freeze", {
    bodyLimit: SMALL_BODY,
    config: { role: "admin" },
    schema: {
      tags: ["freeze"], security, summary: "Lift the freeze: promotions work again",
      body: z.strictObject({ reason: reasonText }),
      response: { 200: freezeDto, ...errorResponses(400, 401, 403, 409, 413, 503) },
    },
  }, async (req) => {
    const f = await freeze.lift(req.body, actorOf(req));
    req.log.warn({ actor: req.user.sub, reason: req.body.reason, requestId: req.id }, "freeze lifted; promotions work again");
    return toFreezeDto(f);
  });
}
