// Commands for licenses, per-licensee values and the fleet, over the admin
// API (docs/api.md §3). Like remote.ts, each returns the server's JSON answer and
// its human-readable rendering. A license token is printed only by
// `license issue`, alone on stdout, so that LICENSE=$(chartroom license issue …)
// captures it; everything else about it goes to stderr.
import semver from "semver";
import { UsageError } from "./args.js";
import { ApiError, seg, type Client } from "./client.js";
import { didYouMean } from "./suggest.js";
import { clean, dash, table, when, yamlText } from "./format.js";
import { parseMapping, readTextFile, type Result } from "./remote.js";
// The answers' types are the routes' zod schemas (type-only: no zod at run time).
import type { FleetDto, FleetEntryDto } from "../routes/admin/dto/fleet.js";
import type { IssuedLicenseDto, LicenseDto, LicenseListDto, OverrideDto } from "../routes/admin/dto/licenses.js";

export async function licenseIssue(
  c: Client,
  o: { sub: string; channel: string; expiresAt?: string | undefined; notes?: string | undefined },
): Promise<Result> {
  const body: Record<string, unknown> = { sub: o.sub, channel: o.channel };
  if (o.expiresAt !== undefined) body.expiresAt = o.expiresAt;
  if (o.notes !== undefined) body.notes = o.notes;
  const l = (await c.post("/licenses", body)) as IssuedLicenseDto;
  return {
    json: l,
    text: `${l.token}\n`,
    note: `issued license ${clean(l.jti)}: sub ${clean(dash(l.sub))}, channel ${clean(dash(l.channel))}, expires ${when(l.expiresAt)}\n`,
  };
}

function licenseState(l: LicenseDto): string {
  if (l.revoked) return "revoked";
  if (l.expired) return "expired";
  return "active";
}

export async function licenseList(c: Client): Promise<Result> {
  const data = (await c.get("/licenses")) as LicenseListDto;
  const text =
    data.items.length === 0
      ? "no licenses\n"
      : table(
          ["JTI", "SUB", "CHANNEL", "EXPIRES", "STATE", "ISSUED-HERE"],
          data.items.map((l) => [l.jti, dash(l.sub), dash(l.channel), when(l.expiresAt), licenseState(l), l.issuedHere ? "yes" : "no"]),
        );
  return { json: data, text };
}

export async function licenseRevoke(c: Client, jti: string, reason: string): Promise<Result> {
  const l = (await c.post(`/licenses/${seg(jti)}/revoke`, { reason })) as LicenseDto;
  const who = l.sub ? ` (sub ${l.sub})` : " (not issued here)";
  return { json: l, text: `${clean(`revoked license ${l.jti}${who}: ${dash(l.revokeReason)}`)}\n` };
}

/**
 * Refuses a jti the server has never met (a typo would otherwise revoke
 * nothing and exit 0): known are the licenses it issued or revoked and the
 * jtis of the licenses its fleet polls with. --force skips this (a license
 * issued elsewhere that has not polled yet).
 */
export async function checkKnownJti(c: Client, jti: string): Promise<void> {
  const issued = (await c.get("/licenses")) as LicenseListDto;
  if (issued.items.some((l) => l.jti === jti)) return;
  const fleet = (await c.get("/fleet")) as FleetDto;
  if (fleet.items.some((i) => i.jti === jti)) return;
  const known = [...issued.items.map((l) => l.jti), ...fleet.items.flatMap((i) => (i.jti ? [i.jti] : []))];
  throw new UsageError(
    `no license with jti ${JSON.stringify(jti)} is known to ${c.url}: it did not issue it and no licensee has polled with it (a poll shows in the fleet within seconds)${didYouMean(jti, known)}. ` +
      `See chartroom license list and chartroom fleet --json; pass --force to revoke it anyway (a license issued elsewhere that has not polled yet)`,
    false,
  );
}

/**
 * Refuses a licensee the server has never met (a typo would set values
 * nobody gets): known are the subs of its licenses and its fleet, and any
 * with an override. --force skips this (values ready for a new licensee).
 */
export async function checkKnownSub(c: Client, sub: string): Promise<void> {
  try {
    await c.get(`/licenses/${seg(sub)}/values`);
    return;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 404) throw err;
  }
  const issued = (await c.get("/licenses")) as LicenseListDto;
  if (issued.items.some((l) => l.sub === sub)) return;
  const fleet = (await c.get("/fleet")) as FleetDto;
  if (fleet.items.some((i) => i.sub === sub && !i.anonymous)) return;
  const known = [...issued.items.flatMap((l) => (l.sub ? [l.sub] : [])), ...fleet.items.filter((i) => !i.anonymous).map((i) => i.sub)];
  throw new UsageError(
    `no licensee ${JSON.stringify(sub)} is known to ${c.url}: no license names it, it has not polled (a poll shows in the fleet within seconds) and it has no values override${didYouMean(sub, known)}. ` +
      `See chartroom fleet and chartroom license list; pass --force to set values for a licensee that has not polled yet`,
    false,
  );
}

/** The override as YAML, ready to edit and give back to `license values set`. */
export async function valuesShow(c: Client, sub: string): Promise<Result> {
  const o = (await c.get(`/licenses/${seg(sub)}/values`)) as OverrideDto;
  return { json: o, text: yamlText(o.values) };
}

/** Reads FILE (YAML or JSON), or stdin for "-". */
export async function readValues(file: string, stdin: () => Promise<string>): Promise<Record<string, unknown>> {
  const text = file === "-" ? await stdin() : readTextFile(file);
  return parseMapping(text, file === "-" ? "stdin" : file, "a mapping of Helm values");
}

export async function valuesSet(c: Client, sub: string, values: Record<string, unknown>): Promise<Result> {
  const o = (await c.put(`/licenses/${seg(sub)}/values`, { values })) as OverrideDto;
  const keys = Object.keys(o.values);
  return { json: o, text: `${clean(`set the values override of ${o.sub}: ${keys.length === 0 ? "(empty)" : keys.join(", ")}`)}\n` };
}

export async function valuesUnset(c: Client, sub: string): Promise<Result> {
  await c.del(`/licenses/${seg(sub)}/values`);
  return { json: { sub, removed: true }, text: `${clean(`removed the values override of ${sub}`)}\n` };
}

/** The newest health report: its state, with the release's version when it is not the release last served ("-": none). */
function entryHealth(i: FleetEntryDto): string {
  const r = i.report;
  if (!r) return "-";
  return r.releaseId === i.releaseId ? r.state : `${r.state}@${r.releaseVersion ?? r.releaseId}`;
}

function entryLicense(i: FleetEntryDto): string {
  if (i.anonymous) return "none (anonymous)";
  if (i.licenseRevoked) return "revoked";
  if (i.licenseExpired) return "expired";
  return "ok";
}

/** Release versions oldest first (semver order; "none" and non-semver last). */
function byVersion(a: string, b: string): number {
  const va = semver.valid(a);
  const vb = semver.valid(b);
  if (va && vb) return semver.compare(va, vb);
  if (va) return -1;
  if (vb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** "  stable: 0.58.1 ×3, 0.59.2 ×1", one line per channel. */
function distributionLines(d: FleetDto["distribution"]): string {
  return Object.keys(d)
    .sort()
    .map((ch) => {
      const versions = Object.entries(d[ch]!).sort(([a], [b]) => byVersion(a, b));
      return `  ${clean(`${ch}: ${versions.map(([v, n]) => `${v} ×${n}`).join(", ")}`)}\n`;
    })
    .join("");
}

export async function fleet(c: Client, q: { channel?: string | undefined; notSeenForHours?: number | undefined; path?: "stepping-stone" | "no-upgrade-path" | undefined }): Promise<Result> {
  const data = (await c.get("/fleet", { channel: q.channel, notSeenForHours: q.notSeenForHours, path: q.path })) as FleetDto;
  if (data.items.length === 0) return { json: data, text: q.path === "no-upgrade-path" ? "no licensee is stuck without an upgrade path\n" : q.path ? "no licensee is on a stepping stone\n" : "no licensees in the fleet\n" };
  // The upgrade path column only when some entry has one (docs/api.md §8).
  const paths = data.items.some((i) => i.path && i.path.state !== "current" && i.path.state !== "fresh");
  const text =
    table(
      ["SUB", "CHANNEL", "RELEASE", "HEALTH", "LAST-SEEN", "POLLS", "LICENSE", "USER-AGENT", ...(paths ? ["PATH"] : [])],
      data.items.map((i) => [
        i.sub,
        i.channel,
        dash(i.releaseVersion),
        entryHealth(i),
        when(i.lastSeenAt),
        String(i.pollCount),
        entryLicense(i),
        dash(i.userAgent),
        ...(paths ? [i.path && i.path.state !== "current" && i.path.state !== "fresh" ? `${i.path.text}${i.path.state === "no-upgrade-path" ? "" : ` [${i.path.state}]`}` : "-"] : []),
      ]),
    ) +
    "\nreleases per channel:\n" +
    distributionLines(data.distribution);
  return { json: data, text };
}
