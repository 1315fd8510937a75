// What an operator receives: the spec of a release as seen from a channel.
// Pure functions; the wire format is docs/api.md §1 (what the W&B
// operator's deployer client decodes).
import { createHash } from "node:crypto";
import { configure } from "safe-stable-stringify";
import type { Channel, Chart, Images, Release } from "../domain/schemas.js";
import { mergeLayers, type Values } from "../domain/values.js";

export interface Spec {
  metadata: Record<string, string>;
  chart: Chart;
  values: Values;
}

/** `<component>.image.repository` / `.tag` (and `.digest`) as a values layer. */
export function imageValues(images: Images): Values {
  const out: Values = {};
  for (const [component, image] of Object.entries(images)) {
    const rendered: Values = { repository: image.repository };
    if (image.tag !== undefined) rendered.tag = image.tag;
    if (image.digest !== undefined) rendered.digest = image.digest;
    out[component] = { image: rendered };
  }
  return out;
}

/**
 * Channel defaults, then release values, then image tags, then the
 * licensee's overrides: each deep-merged over the one before.
 */
export function specValues(channel: Pick<Channel, "defaultValues">, release: Pick<Release, "values" | "images">, overrides?: Values): Values {
  return mergeLayers(channel.defaultValues, release.values, imageValues(release.images), overrides);
}

/** Every value a string: the operator decodes metadata as map[string]string. */
export function specMetadata(channel: Pick<Channel, "name">, release: Release, opts: { pinned?: boolean; overridden?: boolean } = {}): Record<string, string> {
  const chart = release.chart as Partial<Record<"version" | "name" | "url" | "path", string>>;
  const m: Record<string, string> = {
    channel: channel.name,
    version: release.version,
    releaseId: release.id,
    releasedAt: release.createdAt.toISOString(),
    chartVersion: chart.version ?? "",
    server: "chartroom",
  };
  if (opts.pinned) m.pinned = "true";
  if (opts.overridden) m.licenseOverrides = "true";
  return m;
}

export function buildSpec(channel: Pick<Channel, "name" | "defaultValues">, release: Release, opts: { overrides?: Values | undefined; pinned?: boolean } = {}): Spec {
  return {
    metadata: specMetadata(channel, release, { pinned: opts.pinned ?? false, overridden: opts.overrides !== undefined }),
    chart: release.chart,
    values: specValues(channel, release, opts.overrides),
  };
}

/** A spec serialized once, with its strong ETag. */
export interface SerializedSpec {
  body: Buffer;
  etag: string;
  channel: string;
  releaseId: string;
  version: string;
}

/**
 * Canonical JSON: object keys sorted at every level (UTF-16 order), numbers
 * as JavaScript prints them, no whitespace. The bytes depend on content
 * only, never on the order a database hands keys back (PostgreSQL's jsonb
 * reorders them, SQLite keeps them), so every replica and every restart
 * serves the same bytes and ETag (docs/decisions.md, decision 35). Strict: a
 * value JSON cannot hold throws instead of turning into `null`.
 */
export const canonicalJson = configure({ deterministic: true, strict: true, circularValue: Error, bigint: false });

export function serializeSpec(spec: Spec, release: Release, channel: string): SerializedSpec {
  const body = Buffer.from(canonicalJson(spec)!, "utf8");
  const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 32)}"`;
  return { body, etag, channel, releaseId: release.id, version: release.version };
}
