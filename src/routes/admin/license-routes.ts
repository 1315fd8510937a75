// Admin routes for licenses, per-licensee values and the fleet (docs/api.md §3).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import { z } from "zod";
import { channelName, licenseId, licenseSubject, reasonText, specValuesSchema, text } from "../../domain/schemas.js";
import type { Context } from "../../context.js";
import { errorResponses } from "../openapi-shared.js";
import { ANONYMOUS_SUB } from "../../licensing/anonymous.js";
import { SMALL_BODY, actorOf } from "./catalog-routes.js";
import { fleetDto, fleetEntryDto, fleetQuery, fleetReportsDto, toFleetDto, toFleetEntryDto, toFleetReportsDto } from "./dto/fleet.js";
import { issuedLicenseDto, licenseDto, licenseListDto, overrideDto, toLicenseDto } from "./dto/licenses.js";

const security = [{ adminBearer: [] }];
const subParams = z.object({ sub: licenseSubject.describe("the licensee (sub)") });
/** A licensee a license or values can be given to: not the reserved name of anonymous polls. */
const licensee = licenseSubject.refine((s) => s !== ANONYMOUS_SUB, `"${ANONYMOUS_SUB}" is reserved for anonymous polls (ANONYMOUS_CHANNEL), which never get per-license values`);

export async function licenseRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const { licenses, fleetView } = ctx;

  r.post("/licenses", {
    bodyLimit: SMALL_BODY,
    config: { role: "admin" },
    schema: {
      tags: ["licenses"], security, summary: "Issue a license signed with this server's key (the token is shown this once)",
      body: z.strictObject({
        sub: licensee,
        channel: channelName,
        expiresAt: z.iso.datetime({ offset: true }).optional().describe("default: one year from now"),
        notes: text(1000).optional(),
      }),
      response: { 201: issuedLicenseDto, ...errorResponses(400, 401, 403, 413, 503) },
    },
  }, async (req, reply) => {
    const issued = await licenses.issue(req.body, actorOf(req));
    reply.code(201);
    return { ...toLicenseDto(issued.license), token: issued.token, kid: issued.kid };
  });

  r.get("/licenses", {
    config: { role: "viewer" },
    schema: {
      tags: ["licenses"], security, summary: "Issued and revoked licenses, newest first (never their tokens)",
      querystring: z.strictObject({ sub: licenseSubject.optional().describe("only the licenses issued here to this licensee (and their revocations)") }),
      response: { 200: licenseListDto, ...errorResponses(400, 401, 403) },
    },
  }, async (req) => ({ items: (await licenses.list(req.query.sub)).map(toLicenseDto) }));

  r.post("/licenses/:jti/revoke", {
    bodyLimit: SMALL_BODY,
    config: { role: "admin" },
    schema: {
      tags: ["licenses"], security, summary: "Revoke any license by jti; every replica refuses it within seconds",
      params: z.object({ jti: licenseId }),
      body: z.strictObject({ reason: reasonText }),
      response: { 200: licenseDto, ...errorResponses(400, 401, 403, 409) },
    },
  }, async (req) => toLicenseDto(await licenses.revoke(req.params.jti, req.body.reason, actorOf(req))));

  r.get("/licenses/:sub/values", {
    config: { role: "viewer" },
    schema: { tags: ["licenses"], security, summary: "A licensee's values override (path parameter: the licensee, sub)", params: subParams, response: { 200: overrideDto, ...errorResponses(401, 403, 404) } },
  }, async (req) => ({ sub: req.params.sub, values: await licenses.getOverride(req.params.sub) }));

  r.put("/licenses/:sub/values", {
    config: { role: "admin" },
    schema: {
      tags: ["licenses"], security, summary: "Set a licensee's values override, deep-merged last into that licensee's spec only",
      params: z.object({ sub: licensee.describe("the licensee (sub)") }),
      body: z.strictObject({ values: specValuesSchema }),
      response: { 200: overrideDto, ...errorResponses(400, 401, 403, 413) },
    },
  }, async (req) => {
    await licenses.setOverride(req.params.sub, req.body.values, actorOf(req));
    return { sub: req.params.sub, values: req.body.values };
  });

  r.delete("/licenses/:sub/values", {
    config: { role: "admin" },
    schema: { tags: ["licenses"], security, summary: "Remove a licensee's values override", params: subParams, response: { 204: z.null(), ...errorResponses(401, 403, 404) } },
  }, async (req, reply) => {
    await licenses.deleteOverride(req.params.sub, actorOf(req));
    return reply.code(204).send(null);
  });

  // The fleet, at its name; /instances is the old path, kept as an alias
  // (the same handler, marked deprecated in OpenAPI).
  for (const [path, deprecated] of [["/fleet", false], ["/instances", true]] as const) {
    r.get(path, {
      config: { role: "viewer" },
      schema: {
        tags: ["fleet"], security,
        summary: deprecated ? "Deprecated alias of GET /fleet" : "The fleet: per licensee, channel, release last served, first/last seen, polls, user agent, license state",
        ...(deprecated ? { deprecated: true } : {}),
        querystring: fleetQuery,
        response: { 200: fleetDto, ...errorResponses(400, 401, 403) },
      },
    }, async (req) => toFleetDto(await fleetView.view(req.query)));
  }

  r.get("/fleet/:sub", {
    config: { role: "viewer" },
    schema: {
      tags: ["fleet"], security, summary: "One licensee's fleet entry (as in GET /fleet), without reading the fleet",
      params: subParams,
      response: { 200: fleetEntryDto, ...errorResponses(400, 401, 403, 404) },
    },
  }, async (req) => toFleetEntryDto(await fleetView.entry(req.params.sub)));

  r.get("/fleet/:sub/reports", {
    config: { role: "viewer" },
    schema: {
      tags: ["fleet"], security, summary: "One licensee's last health reports (docs/api.md §9), newest first",
      params: subParams,
      response: { 200: fleetReportsDto, ...errorResponses(400, 401, 403) },
    },
  }, async (req) => toFleetReportsDto(await fleetView.reports(req.params.sub)));
}
