// Admin bearer tokens minted from ADMIN_JWT_SECRET (HS256): what
// `chartroom token` prints. Tokens from an identity provider
// (ADMIN_JWKS_FILE) are made elsewhere and only verified here.
import { randomUUID } from "node:crypto";
import { createSigner } from "fast-jwt";
import type { Role } from "./roles.js";

export interface AdminTokenRequest {
  sub: string;
  roles: Role[];
  ttlSec: number;
  audience: string;
  issuer?: string | undefined;
}

export function mintAdminToken(secret: string, req: AdminTokenRequest): string {
  const sign = createSigner({
    key: secret,
    algorithm: "HS256",
    expiresIn: req.ttlSec * 1000,
    aud: req.audience,
    ...(req.issuer ? { iss: req.issuer } : {}),
  });
  return sign({ sub: req.sub, roles: req.roles, jti: randomUUID() });
}

/** "90s", "15m", "1h", "7d" → seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)([smhd])$/.exec(text.trim());
  if (!m) throw new Error(`ttl ${JSON.stringify(text)}: use a number and a unit, e.g. 90s, 15m, 1h, 7d`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
  const sec = n * unit;
  if (sec < 1 || sec > 366 * 86400) throw new Error(`ttl ${text}: must be between 1s and 366d`);
  return sec;
}
