// Licenses issued by this server, revocations of any license, and
// per-licensee values overrides (the fleet view is fleet-service.ts). Every
// change is audited and bumps the "licenses" state version so every replica
// reloads its revocation set and overrides (within its state-check interval).
import { randomUUID } from "node:crypto";
import { ChannelNotFoundError, LicenseAlreadyRevokedError, LicenseIssuingDisabledError, NotFoundError, fieldError, isUniqueViolation, withField } from "../errors.js";
import type { SigningKey } from "../licensing/license-keys.js";
import { signLicense } from "../licensing/issue-license.js";
import type { Values } from "../domain/values.js";
import type { IssuedLicense, Revocation } from "../repositories/licenses-repo.js";
import type { Store } from "../repositories/store.js";
import type { Actor } from "./catalog-service.js";
import { subjectOf } from "../domain/webhook-events.js";

export const DEFAULT_LICENSE_DAYS = 365;

export interface IssueInput {
  sub: string;
  channel: string;
  expiresAt?: string | undefined;
  notes?: string | undefined;
}

export interface LicenseView {
  jti: string;
  sub: string | null;
  channel: string | null;
  issuedHere: boolean;
  issuedAt: Date | null;
  issuedBy: string | null;
  expiresAt: Date | null;
  notes: string;
  expired: boolean;
  revoked: boolean;
  revokedAt: Date | null;
  revokedBy: string | null;
  revokeReason: string | null;
}

export interface LicenseServiceOptions {
  signingKey?: SigningKey | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** Called after a committed change: reload this replica's caches now. */
  onChange?: (change: { revoked?: string; overridesChanged?: boolean }) => Promise<void> | void;
  now?: () => Date;
}

type LicenseStore = Pick<Store, "transaction" | "licenses" | "channels">;

function view(l: IssuedLicense | null, r: Revocation | null, jti: string, now: Date): LicenseView {
  return {
    jti,
    sub: l?.sub ?? null,
    channel: l?.channel ?? null,
    issuedHere: l !== null,
    issuedAt: l?.issuedAt ?? null,
    issuedBy: l?.issuedBy ?? null,
    expiresAt: l?.expiresAt ?? null,
    notes: l?.notes ?? "",
    expired: l !== null && l.expiresAt.getTime() <= now.getTime(),
    revoked: r !== null,
    revokedAt: r?.revokedAt ?? null,
    revokedBy: r?.revokedBy ?? null,
    revokeReason: r?.reason ?? null,
  };
}

export function licenseService(store: LicenseStore, opts: LicenseServiceOptions = {}) {
  const now = opts.now ?? (() => new Date());

  return {
    /** Signs a license; the token is returned once and never stored. */
    async issue(input: IssueInput, actor: Actor): Promise<{ license: LicenseView; token: string; kid: string }> {
      const key = opts.signingKey;
      if (!key) throw new LicenseIssuingDisabledError();
      const issuedAt = now();
      // Whole seconds, as in the token's `exp`, so the two never disagree.
      const requested = input.expiresAt ? new Date(input.expiresAt) : new Date(issuedAt.getTime() + DEFAULT_LICENSE_DAYS * 86_400_000);
      const expiresAt = new Date(Math.floor(requested.getTime() / 1000) * 1000);
      if (Number.isNaN(expiresAt.getTime())) throw fieldError("expiresAt", "must be an ISO 8601 date-time");
      if (expiresAt.getTime() <= issuedAt.getTime()) throw fieldError("expiresAt", "must be in the future");
      if (!(await store.channels.findByName(input.channel))) throw withField(new ChannelNotFoundError(input.channel), "channel");
      const jti = randomUUID();
      const token = signLicense(key, {
        sub: input.sub,
        channel: input.channel,
        jti,
        iat: Math.floor(issuedAt.getTime() / 1000),
        exp: Math.floor(expiresAt.getTime() / 1000),
        ...(opts.issuer ? { iss: opts.issuer } : {}),
        ...(opts.audience ? { aud: opts.audience } : {}),
      });
      const stored = await store.transaction(async (repos) => {
        const l = await repos.licenses.issue({ jti, sub: input.sub, channel: input.channel, expiresAt, notes: input.notes ?? "", issuedBy: actor.sub, keyId: key.kid });
        await repos.audit.add({ actor: actor.sub, action: "license.issue", targetType: "license", target: jti, after: { sub: input.sub, channel: input.channel, expiresAt, kid: key.kid }, requestId: actor.requestId });
        return l;
      });
      return { license: view(stored, null, jti, issuedAt), token, kid: key.kid };
    },

    /**
     * Issued licenses and revocations (of licenses issued anywhere), newest
     * first; with `sub`, the licenses issued here to that licensee and their
     * revocations (a revocation of a license issued elsewhere names no sub).
     */
    async list(sub?: string): Promise<LicenseView[]> {
      if (sub !== undefined) {
        const issued = await store.licenses.issuedTo(sub);
        const byJti = new Map((await store.licenses.revocationsOf(issued.map((l) => l.jti))).map((r) => [r.jti, r]));
        const t = now();
        return issued.map((l) => view(l, byJti.get(l.jti) ?? null, l.jti, t));
      }
      const [issued, revocations] = await Promise.all([store.licenses.allIssued(), store.licenses.allRevocations()]);
      const byJti = new Map(revocations.map((r) => [r.jti, r]));
      const t = now();
      const out = issued.map((l) => view(l, byJti.get(l.jti) ?? null, l.jti, t));
      const issuedJtis = new Set(issued.map((l) => l.jti));
      for (const r of revocations) if (!issuedJtis.has(r.jti)) out.push(view(null, r, r.jti, t));
      const when = (v: LicenseView) => (v.issuedAt ?? v.revokedAt ?? new Date(0)).getTime();
      return out.sort((a, b) => when(b) - when(a) || (a.jti < b.jti ? 1 : -1));
    },

    /** Revokes any jti, issued here or not. */
    async revoke(jti: string, reason: string, actor: Actor): Promise<LicenseView> {
      const result = await store.transaction(async (repos) => {
        if (await repos.licenses.findRevocation(jti)) throw new LicenseAlreadyRevokedError(jti);
        const r: Revocation = { jti, reason, revokedBy: actor.sub, revokedAt: now() };
        await repos.licenses.revoke(r);
        const issued = await repos.licenses.findIssued(jti);
        await repos.audit.add({ actor: actor.sub, action: "license.revoke", targetType: "license", target: jti, before: { revoked: false }, after: { revoked: true, reason, sub: issued?.sub ?? null }, requestId: actor.requestId });
        await repos.outbox.add("license.revoked", subjectOf.license(jti), { jti, sub: issued?.sub ?? null, reason, by: actor.sub });
        await repos.state.bump("licenses");
        return view(issued, r, jti, now());
      }).catch((err: unknown) => {
        // Revoked concurrently, between the check above and the insert.
        throw isUniqueViolation(err, "jti") ? new LicenseAlreadyRevokedError(jti) : err;
      });
      await opts.onChange?.({ revoked: jti });
      return result;
    },

    async getOverride(sub: string): Promise<Values> {
      const v = await store.licenses.findOverride(sub);
      if (!v) throw new NotFoundError(`licensee ${sub} has no values override`);
      return v;
    },

    /** Sets the licensee's values override (deep-merged last into every spec they get). */
    async setOverride(sub: string, values: Values, actor: Actor): Promise<void> {
      await store.transaction(async (repos) => {
        const before = await repos.licenses.findOverride(sub);
        await repos.licenses.setOverride(sub, values, actor.sub);
        await repos.audit.add({ actor: actor.sub, action: "license.values.set", targetType: "licensee", target: sub, before, after: values, requestId: actor.requestId });
        await repos.state.bump("licenses");
      });
      await opts.onChange?.({ overridesChanged: true });
    },

    async deleteOverride(sub: string, actor: Actor): Promise<void> {
      await store.transaction(async (repos) => {
        const before = await repos.licenses.findOverride(sub);
        if (!before) throw new NotFoundError(`licensee ${sub} has no values override`);
        await repos.licenses.deleteOverride(sub);
        await repos.audit.add({ actor: actor.sub, action: "license.values.unset", targetType: "licensee", target: sub, before, requestId: actor.requestId });
        await repos.state.bump("licenses");
      });
      await opts.onChange?.({ overridesChanged: true });
    },
  };
}
export type LicenseService = ReturnType<typeof licenseService>;
