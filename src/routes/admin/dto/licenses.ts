// Licenses and per-licensee values as the admin API answers them (never a
// token, except in the answer to the issue that made it).
import { z } from "zod";
import type { LicenseView } from "../../../services/license-service.js";

export const licenseDto = z.object({
  id: z.string(),
  jti: z.string(),
  sub: z.string().nullable(),
  channel: z.string().nullable(),
  issuedHere: z.boolean(),
  issuedAt: z.string().nullable(),
  issuedBy: z.string().nullable(),
  expiresAt: z.string().nullable(),
  notes: z.string(),
  expired: z.boolean(),
  revoked: z.boolean(),
  revokedAt: z.string().nullable(),
  revokedBy: z.string().nullable(),
  revokeReason: z.string().nullable(),
});
export type LicenseDto = z.infer<typeof licenseDto>;

export const licenseListDto = z.object({ items: z.array(licenseDto) });
export type LicenseListDto = z.infer<typeof licenseListDto>;

/** POST /licenses: the license, and its token this once. */
export const issuedLicenseDto = licenseDto.extend({ token: z.string(), kid: z.string() });
export type IssuedLicenseDto = z.infer<typeof issuedLicenseDto>;

/** A licensee's values override. */
export const overrideDto = z.object({ sub: z.string(), values: z.record(z.string(), z.unknown()) });
export type OverrideDto = z.infer<typeof overrideDto>;

export function toLicenseDto(l: LicenseView): LicenseDto {
  return {
    id: l.jti,
    ...l,
    issuedAt: l.issuedAt?.toISOString() ?? null,
    expiresAt: l.expiresAt?.toISOString() ?? null,
    revokedAt: l.revokedAt?.toISOString() ?? null,
  };
}
