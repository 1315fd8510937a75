import type { Db } from "../db/client.js";
import type { Values } from "../domain/values.js";

export interface Revocation {
  jti: string;
  reason: string;
  revokedBy: string;
  revokedAt: Date;
}

export function licensesRepo(db: Pick<Db, "license" | "revocation" | "licenseValues">) {
  return {
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
  };
}
export type LicensesRepo = ReturnType<typeof licensesRepo>;
