// Admin authentication for the /api/v1/admin subtree only: @fastify/jwt
// with HS256 (ADMIN_JWT_SECRET) or the keys of an identity provider
// (ADMIN_JWKS_FILE), `exp` and `sub` required, audience enforced. Every
// verification failure is a 401 ADMIN_UNAUTHORIZED (never @fastify/jwt's
// own 500s), and each route's `config.role` is checked (403 ROLE_REQUIRED).
import type { FastifyInstance, FastifyRequest } from "fastify";
import fastifyJwt from "@fastify/jwt";
import fp from "fastify-plugin";
import { AdminAuthError, RoleRequiredError } from "../errors.js";
import { loadJwksFile } from "../licensing/license-keys.js";
import { hasRole, type Role } from "../admin/roles.js";
import type { AdminKeys } from "../context.js";

export interface AdminUser {
  sub: string;
  roles: string[];
}

declare module "@fastify/jwt" {
  interface FastifyJWT {
    user: AdminUser;
  }
}

declare module "fastify" {
  interface FastifyContextConfig {
    /** The least role a route needs. */
    role?: Role;
  }
}

export interface AdminAuthOptions {
  keys: AdminKeys;
  audience: string;
  issuer?: string | undefined;
}

function publicKeysByKid(file: string): Map<string, { pem: string; alg: string }> {
  return new Map(loadJwksFile(file).map((k) => [k.kid, { alg: k.alg, pem: k.publicKey.export({ type: "spki", format: "pem" }).toString() }]));
}

/** One line a human can act on, never the token. */
function reasonOf(err: unknown): string {
  const code = (err as { code?: string }).code ?? "";
  if (code.includes("NO_AUTHORIZATION")) return "an admin bearer token is required (Authorization: Bearer <JWT>)";
  if (code.includes("EXPIRED")) return "the admin token has expired";
  if (code.includes("BAD_REQUEST") || code.includes("MALFORMED")) return "the Authorization header is not a Bearer token";
  return "the admin token is not valid for this server";
}

export default fp(
  async function adminAuth(app: FastifyInstance, opts: AdminAuthOptions) {
    const verify = {
      // `aud` (and `iss` when configured) must be present, not only match
      // when present: a token minted for another service with the same
      // secret but no audience must not pass.
      requiredClaims: ["exp", "sub", "aud", ...(opts.issuer ? ["iss"] : [])],
      allowedAud: opts.audience,
      ...(opts.issuer ? { allowedIss: opts.issuer } : {}),
      clockTolerance: 60_000,
    };
    if (opts.keys.jwksFile) {
      const keys = publicKeysByKid(opts.keys.jwksFile);
      await app.register(fastifyJwt, {
        secret: {
          public: async (_req: FastifyRequest, token: { header: { kid?: string; alg?: string } }) => {
            const key = token.header.kid !== undefined ? keys.get(token.header.kid) : undefined;
            if (!key || key.alg !== token.header.alg) throw new Error("unknown admin key");
            return key.pem;
          },
        } as never,
        verify: { ...verify, algorithms: ["RS256", "ES256", "EdDSA"] },
      });
    } else if (opts.keys.secret) {
      await app.register(fastifyJwt, { secret: opts.keys.secret, verify: { ...verify, algorithms: ["HS256"] } });
    }

    app.addHook("onRequest", async (req) => {
      if (!opts.keys.jwksFile && !opts.keys.secret) throw new AdminAuthError("admin API disabled: set ADMIN_JWT_SECRET or ADMIN_JWKS_FILE");
      const header = req.headers.authorization;
      if (!header || !/^Bearer\s+\S+$/i.test(header)) throw new AdminAuthError(reasonOf({ code: header ? "MALFORMED" : "NO_AUTHORIZATION" }));
      if (header.length > 16_384) throw new AdminAuthError("the admin token is too large");
      let payload: unknown;
      try {
        payload = await req.jwtVerify();
      } catch (err) {
        throw new AdminAuthError(reasonOf(err));
      }
      const p = payload as { sub?: unknown; roles?: unknown };
      if (typeof p.sub !== "string" || p.sub === "" || p.sub.length > 256) throw new AdminAuthError("the admin token has no valid sub");
      const roles = Array.isArray(p.roles) ? p.roles.filter((r): r is string => typeof r === "string") : [];
      req.user = { sub: p.sub, roles };
      const needed = req.routeOptions.config.role;
      if (needed && !hasRole(roles, needed)) throw new RoleRequiredError(needed);
    });
  },
  { name: "admin-auth" },
);
