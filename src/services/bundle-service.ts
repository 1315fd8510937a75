// Air-gapped bundles (docs/api.md §11): everything a licensee without
// network access needs to install what its poll gets now, signed with the
// spec key. The spec is the poll's own (the spec service's serialized bytes,
// so spec.jws is the signature its X-Chartroom-Signature carries), every
// chart is fetched before the first byte is answered (a failing source is a
// clean 502, nothing half-sent), and each export is audited. The layout:
//
//   manifest.json, manifest.jws   every other file's sha256 and size, signed
//   spec.json, spec.jws           what the licensee's poll answers now
//   images.txt                    every image of the bundle's values, for mirroring
//   charts/<chart>-<version>.tgz  each chart fetched (a local chart is referenced only)
//   operator/                     the WeightsAndBiases resource and `wandb-charts` ConfigMap
//   stepping-stones/NN-<version>/ spec.json, spec.jws, operator/ of each stepping stone (§8)
import type { Chart } from "../domain/schemas.js";
import type { Values } from "../domain/values.js";
import type { AuditRepo } from "../repositories/audit-repo.js";
import type { Actor } from "./catalog-service.js";
import type { ChartFetcher, FetchedChart } from "./chart-fetcher.js";
import { OPERATOR_CHARTS_MOUNT, OPERATOR_NAME, bundleFileName, chartsConfigMap, customResource, imageReferences, manifestBytes, manifestFiles, type BundleFile, type Manifest, type SteppingStoneEntry } from "./bundle-contents.js";
import type { SerializedSpec } from "./spec.js";
import type { SpecService } from "./spec-service.js";

/** Makes a detached JWS over bytes with the spec key (src/licensing/spec-key.ts). */
export interface DetachedSigner {
  readonly kid: string;
  signDetached(payload: Uint8Array): string;
}

/** A release a licensee must pass through before its target (§8), in install order. */
export interface SteppingStoneRef {
  id: string;
  version: string;
}

/** The stepping stones of a licensee on a channel towards `release`; [] when it needs none. */
export type SteppingStones = (q: { sub: string; channel: string; release: SteppingStoneRef }) => SteppingStoneRef[] | Promise<SteppingStoneRef[]>;

export interface BundleServiceDeps {
  specs: Pick<SpecService, "channelSpec" | "releaseSpec">;
  charts: Pick<ChartFetcher, "fetch">;
  audit: Pick<AuditRepo, "add">;
  signer: DetachedSigner;
  /**
   * The signature a poll's X-Chartroom-Signature carries for a serialized
   * spec (signed once per spec); default: a fresh signature of its bytes.
   */
  signatureOf?: (spec: SerializedSpec) => string;
  /** The rest of the licensee's upgrade path after what its poll gets (§8); default: none. */
  steppingStones?: SteppingStones;
  now?: () => Date;
}

/** A bundle ready to be written: every byte is known, nothing is left to fetch. */
export interface PreparedBundle {
  fileName: string;
  createdAt: Date;
  manifest: Manifest;
  /** In archive order: manifest.json and manifest.jws first. */
  files: BundleFile[];
  /** What the exporter should know (a ConfigMap Kubernetes will refuse); logged by the route. */
  warnings: string[];
}

/** Kubernetes refuses a ConfigMap over 1 MiB (etcd's object limit); binaryData is base64. */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

interface ParsedSpec {
  chart: Chart;
  values: Values;
}

const utf8 = (s: string) => Buffer.from(s, "utf8");

/** Where the operator reads a release's chart: the ConfigMap's file for a fetched chart, the path itself for a local one. */
function operatorChart(chart: Chart, fetched: FetchedChart | null): { path: string } {
  if (fetched) return { path: `${OPERATOR_CHARTS_MOUNT}/${fetched.fileName}` };
  return { path: (chart as { path: string }).path };
}

export function bundleService(deps: BundleServiceDeps) {
  const now = deps.now ?? (() => new Date());
  const signatureOf = deps.signatureOf ?? ((spec: SerializedSpec) => deps.signer.signDetached(spec.body));
  const steppingStones = deps.steppingStones ?? (() => []);

  /** The operator/ files of one release: its resource, and the ConfigMap when its chart was fetched. */
  function operatorFiles(dir: string, version: string, chart: Chart, values: Values, fetched: FetchedChart | null): BundleFile[] {
    const cr = customResource(
      operatorChart(chart, fetched),
      values,
      fetched
        ? `Release ${version} for the W&B operator in airgapped mode (helm install … wandb/operator --set airgapped=true).\nApply ${dir}${OPERATOR_NAME}-charts.yaml in the operator's namespace first: it holds the chart this resource's spec.chart.path names.`
        : `Release ${version} for the W&B operator in airgapped mode.\nIts chart is local to the operator (${(chart as { path: string }).path}); the bundle references it and does not hold it.`,
    );
    const files: BundleFile[] = [{ path: `${dir}weightsandbiases.yaml`, bytes: utf8(cr) }];
    if (fetched) {
      const cm = chartsConfigMap([fetched], `The chart of release ${version} (${fetched.source}), for the W&B operator's airgapped mode:\nthe operator mounts the ConfigMap ${OPERATOR_NAME}-charts at ${OPERATOR_CHARTS_MOUNT}. kubectl apply -n <the operator's namespace> -f this file.`);
      files.push({ path: `${dir}${OPERATOR_NAME}-charts.yaml`, bytes: utf8(cm) });
    }
    return files;
  }

  return {
    /**
     * Everything of the bundle for `sub` on `channel`, charts fetched and
     * files signed, and the export audited. Throws the poll's errors (404)
     * and the chart source's (502) before anything is written.
     */
    async prepare(q: { sub: string; channel: string }, actor: Actor): Promise<PreparedBundle> {
      const spec = await deps.specs.channelSpec(q.channel, q.sub);
      const stoneRefs = await steppingStones({ sub: q.sub, channel: q.channel, release: { id: spec.releaseId, version: spec.version } });
      const stoneSpecs: SerializedSpec[] = [];
      // Each later step of the licensee's path as its pinned poll would get it (the pin's path check aside: they are installed in order).
      for (const s of stoneRefs) stoneSpecs.push(await deps.specs.releaseSpec(q.channel, s.id, q.sub));
      const parse = (s: SerializedSpec) => JSON.parse(s.body.toString("utf8")) as ParsedSpec;
      const target = parse(spec);
      const stones = stoneSpecs.map(parse);

      // Every chart before the first byte is written; one fetch per distinct chart.
      const fetchedBy = new Map<string, FetchedChart | null>();
      for (const c of [target.chart, ...stones.map((s) => s.chart)]) {
        const key = JSON.stringify(c);
        if (!fetchedBy.has(key)) fetchedBy.set(key, await deps.charts.fetch(c));
      }
      const fetchedOf = (c: Chart) => fetchedBy.get(JSON.stringify(c)) ?? null;

      const files: BundleFile[] = [];
      const fetchedTarget = fetchedOf(target.chart);
      files.push({ path: "spec.json", bytes: spec.body }, { path: "spec.jws", bytes: utf8(signatureOf(spec)) });
      const images = new Set<string>(imageReferences(target.values));
      for (const s of stones) for (const i of imageReferences(s.values)) images.add(i);
      const sorted = [...images].sort();
      files.push({ path: "images.txt", bytes: utf8(sorted.length === 0 ? "" : `${sorted.join("\n")}\n`) });
      const charts = new Map<string, FetchedChart>();
      for (const f of fetchedBy.values()) if (f && !charts.has(f.fileName)) charts.set(f.fileName, f);
      for (const f of charts.values()) files.push({ path: `charts/${f.fileName}`, bytes: f.bytes });
      files.push(...operatorFiles("operator/", spec.version, target.chart, target.values, fetchedTarget));

      const steppingStoneEntries: SteppingStoneEntry[] = [];
      stoneSpecs.forEach((s, i) => {
        const order = i + 1;
        const dir = `stepping-stones/${String(order).padStart(2, "0")}-${s.version}/`;
        const parsed = stones[i]!;
        const fetched = fetchedOf(parsed.chart);
        files.push({ path: `${dir}spec.json`, bytes: s.body }, { path: `${dir}spec.jws`, bytes: utf8(signatureOf(s)) });
        files.push(...operatorFiles(`${dir}operator/`, s.version, parsed.chart, parsed.values, fetched));
        steppingStoneEntries.push({ order, version: s.version, releaseId: s.releaseId, dir, chart: fetched ? { file: `charts/${fetched.fileName}` } : { path: (parsed.chart as { path: string }).path } });
      });

      const createdAt = now();
      const manifest: Manifest = {
        format: "chartroom-bundle/v1",
        sub: q.sub,
        channel: q.channel,
        release: {
          id: spec.releaseId,
          version: spec.version,
          chart: fetchedTarget ? { file: `charts/${fetchedTarget.fileName}`, source: fetchedTarget.source, sha256: fetchedTarget.sha256 } : { path: (target.chart as { path: string }).path },
        },
        createdAt: createdAt.toISOString(),
        files: manifestFiles(files),
        steppingStones: steppingStoneEntries,
      };
      const mBytes = manifestBytes(manifest);
      const all: BundleFile[] = [{ path: "manifest.json", bytes: mBytes }, { path: "manifest.jws", bytes: utf8(deps.signer.signDetached(mBytes)) }, ...files];

      await deps.audit.add({
        actor: actor.sub,
        action: "bundle.export",
        targetType: "licensee",
        target: q.sub,
        after: { channel: q.channel, release: spec.version, releaseId: spec.releaseId, steppingStones: stoneSpecs.map((s) => s.version), kid: deps.signer.kid, files: manifest.files.length },
        requestId: actor.requestId,
      });
      const warnings = all
        .filter((f) => f.path.endsWith(`/${OPERATOR_NAME}-charts.yaml`) && f.bytes.length > CONFIGMAP_MAX_BYTES)
        .map((f) => `${f.path} is ${f.bytes.length} bytes, over Kubernetes' 1 MiB for a ConfigMap: the cluster will refuse it, so the airgapped operator cannot read this chart from ${OPERATOR_NAME}-charts`);
      return { fileName: bundleFileName(q.sub, q.channel, spec.version), createdAt, manifest, files: all, warnings };
    },
  };
}
export type BundleService = ReturnType<typeof bundleService>;
