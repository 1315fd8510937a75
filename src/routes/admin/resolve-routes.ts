// GET /resolve (docs/api.md §7): what a licensee's poll gets now, and why.
// The rule lives in src/services/resolve-service.ts.
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import type { Context } from "../../context.js";
import { errorResponses } from "../openapi-shared.js";
import { resolveDto, resolveQuery } from "./dto/resolve.js";

const security = [{ adminBearer: [] }];

export async function resolveRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get("/resolve", {
    config: { role: "viewer" },
    schema: {
      tags: ["delivery"], security, summary: "What a licensee's poll of the channel route gets now, and why",
      description:
        "`release` and `etag` equal what that licensee's poll answers at this moment (per-license values included). " +
        "`channel` defaults to LICENSE_DEFAULT_CHANNEL (a reason says so); `sub=(anonymous)` is an anonymous poll of ANONYMOUS_CHANNEL. " +
        "404 as the poll: CHANNEL_NOT_FOUND, CHANNEL_HAS_NO_RELEASE.",
      querystring: resolveQuery,
      response: { 200: resolveDto, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (req) => ctx.resolver.resolve(req.query));
}
