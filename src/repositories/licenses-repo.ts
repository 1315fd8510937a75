import { asJson, type Db } from "../db/client.js";
import type { Values } from "../domain/values.js";

export interface Revocation {
  jti: string;
  reason: string;
  revokedBy: string;
  revokedAt: Date;
}

export interface IssuedLicense {
  jti: string;
  sub: string;
  channel: string;
  expiresAt: Date;
  notes: string;
  issuedBy: string;
  issuedAt: Date;
  keyId: string;
}

export function licensesRepo(db: Pick<Db, "license" | "revocation" | "licenseValues">) {
  return {
    async issue(l: Omit<IssuedLicense, "issuedAt">): Promise<IssuedLicense> {
      return db.license.create({ data: l });
    },
    async findIssued(jti: string): Promise<IssuedLicense | null> {
      return db.license.findUnique({ where: { jti } });
    },
    async allIssued(): Promise<IssuedLicense[]> {
      return db.license.findMany({ orderBy: [{ issuedAt: "desc" }, { jti: "desc" }] });
    },
    /** The licenses issued here to one licensee, newest first. */
    async issuedTo(sub: string): Promise<IssuedLicense[]> {
      return db.license.findMany({ where: { sub }, orderBy: [{ issuedAt: "desc" }, { jti: "desc" }] });
    },
    async revocationsOf(jtis: string[]): Promise<Revocation[]> {
      return jtis.length ? db.revocation.findMany({ where: { jti: { in: jtis } } }) : [];
    },
    async issuedByJtis(jtis: string[]): Promise<IssuedLicense[]> {
      return db.license.findMany({ where: { jti: { in: jtis } } });
    },
    async allRevocations(): Promise<Revocation[]> {
      return db.revocation.findMany({ orderBy: { revokedAt: "desc" } });
    },
    async allRevokedJtis(): Promise<string[]> {
      return (await db.revocation.findMany({ select: { jti: true } })).map((r) => r.jti);
    },
    async findRevocation(jti: string): Promise<Revocation | null> {
      return db.revocation.findUnique({ where: { jti } });
    },
    async revoke(r: Revocation): Promise<void> {
      await db.revocation.create({ data: r });
    },
    /** Per-license values overrides, keyed by licensee (sub). */
    async allOverrides(): Promise<Map<string, Values>> {
      const rows = await db.licenseValues.findMany();
      return new Map(rows.map((r) => [r.sub, r.values as Values]));
    },
    async findOverride(sub: string): Promise<Values | null> {
      const row = await db.licenseValues.findUnique({ where: { sub } });
      return row ? (row.values as Values) : null;
    },
    async setOverride(sub: string, values: Values, by: string): Promise<void> {
      await db.licenseValues.upsert({ where: { sub }, create: { sub, values: asJson(values), updatedBy: by }, update: { values: asJson(values), updatedBy: by } });
    },
    async deleteOverride(sub: string): Promise<boolean> {
      const { count } = await db.licenseValues.deleteMany({ where: { sub } });
      return count > 0;
    },
  };
}
export type LicensesRepo = ReturnType<typeof licensesRepo>;
