// GET /bundles (docs/api.md §11): an air-gapped bundle for a licensee, as a
// .tar.gz. The service (src/services/bundle-service.ts) fetches every chart
// and signs every file before this route writes a byte, so a failing chart
// source is an ordinary JSON error (502, naming the source); then the
// archive is streamed (src/services/bundle-archive.ts).
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "@fastify/type-provider-zod";
import { z } from "zod";
import type { Context } from "../../context.js";
import { channelName, licenseSubject } from "../../domain/schemas.js";
import { packBundle } from "../../services/bundle-archive.js";
import { errorResponses } from "../openapi-shared.js";
import { actorOf } from "./catalog-routes.js";

const security = [{ adminBearer: [] }];

export const bundleQuery = z.strictObject({
  sub: licenseSubject.describe("the licensee (sub) the bundle is for: it gets what that licensee's poll gets now"),
  channel: channelName.describe("the licensee's channel"),
});

export async function bundleRoutes(app: FastifyInstance, { ctx }: { ctx: Context }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get("/bundles", {
    // A HEAD would fetch the charts and audit an export nobody receives.
    exposeHeadRoute: false,
    config: { role: "admin" },
    schema: {
      tags: ["delivery"], security, summary: "An air-gapped bundle for a licensee (.tar.gz), signed with the spec key",
      description:
        "`manifest.json` ({format, sub, channel, release, createdAt, files: [{path, sha256, size}], steppingStones}) and `manifest.jws`, " +
        "`spec.json` and `spec.jws` (the bytes and X-Chartroom-Signature of that licensee's poll now), `charts/<chart>-<version>.tgz` (fetched from the Helm repository or OCI registry; a local chart is referenced, not copied), " +
        "`images.txt` (every image reference of the values, one a line), `operator/` (the WeightsAndBiases resource and the `wandb-charts` ConfigMap of the operator's airgapped mode), " +
        "and `stepping-stones/NN-<version>/` for each stepping stone. Every chart is fetched before the answer begins: " +
        "a chart source that fails is a 502 naming it (CHART_SOURCE_UNREACHABLE, CHART_SOURCE_ERROR, CHART_NOT_FOUND, CHART_DIGEST_MISMATCH, CHART_TOO_LARGE). " +
        "404 as the poll: CHANNEL_NOT_FOUND, CHANNEL_HAS_NO_RELEASE. Audited (bundle.export). Verify offline with chartroom bundle verify FILE --jwks /.well-known/jwks.json.",
      querystring: bundleQuery,
      produces: ["application/gzip", "application/json"],
      response: { 200: z.any().describe("the bundle: a gzip'd tar (Content-Disposition names the file)"), ...errorResponses(400, 401, 403, 404, 502) },
    },
  }, async (req, reply) => {
    const bundle = await ctx.bundles.prepare(req.query, actorOf(req));
    for (const warning of bundle.warnings) req.log.warn({ sub: req.query.sub, channel: req.query.channel, warning }, "bundle exported with a problem for the operator's airgapped mode");
    req.log.info({ sub: req.query.sub, channel: req.query.channel, release: bundle.manifest.release.version, files: bundle.files.length, bytes: bundle.files.reduce((n, f) => n + f.bytes.length, 0) }, "bundle exported");
    reply
      .type("application/gzip")
      .header("content-disposition", `attachment; filename="${bundle.fileName}"`)
      .header("cache-control", "no-store")
      .header("x-chartroom-bundle-release", bundle.manifest.release.version);
    return reply.send(packBundle(bundle.files, bundle.createdAt));
  });
}
