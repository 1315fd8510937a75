// What an air-gapped bundle holds (docs/api.md §11), as pure functions: the
// image list for mirroring, the W&B operator's custom resource and the
// `<name>-charts` ConfigMap its airgapped mode mounts, and the manifest.
//
// The operator's airgapped mode (wandb/helm-charts charts/operator,
// `airgapped: true`): the operator Deployment mounts the ConfigMap
// `<name>-charts` (`<name>` is the operator chart's name, nameOverride,
// "wandb" by default) at /charts, and the operator reads the custom
// resource's `spec.chart` as a local chart (`{path}`: wandb/operator
// pkg/wandb/spec/charts/local.go, which loads the file as a chart archive,
// or base64-decodes it first when it is base64 text). So the ConfigMap holds
// the archive under `<chart>-<version>.tgz` in `binaryData` (the kubelet
// writes it as the raw archive) and the resource's chart is
// `{path: /charts/<chart>-<version>.tgz}`; its values are the spec's.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import type { Values } from "../domain/values.js";

/** The operator chart's default name (nameOverride): the ConfigMap is `wandb-charts`. */
export const OPERATOR_NAME = "wandb";
/** Where the operator Deployment mounts the ConfigMap in airgapped mode. */
export const OPERATOR_CHARTS_MOUNT = "/charts";

export const sha256Hex = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const scalar = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined);

/**
 * Every image reference in the values: each object under a key `image`
 * with a `repository` (and `registry`, when given as Bitnami-style charts
 * do), as `[registry/]repository[:tag][@digest]`. Sorted, without
 * duplicates: the list `skopeo copy` or `oras copy` walks to mirror them.
 */
export function imageReferences(values: Values): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!isObject(v)) return;
    for (const [k, child] of Object.entries(v)) {
      if (k === "image" && isObject(child)) {
        const repository = scalar(child.repository);
        const tag = scalar(child.tag);
        const digest = scalar(child.digest);
        if (repository && (tag || digest)) {
          const registry = scalar(child.registry);
          out.add(`${registry ? `${registry.replace(/\/+$/, "")}/` : ""}${repository}${tag ? `:${tag}` : ""}${digest ? `@${digest}` : ""}`);
        }
      }
      walk(child);
    }
  };
  walk(values);
  return [...out].sort();
}

const yamlText = (doc: unknown) => stringify(doc, { lineWidth: 0, aliasDuplicateObjects: false });

/** The WeightsAndBiases custom resource of a release: its chart (the local one the operator reads) and the spec's values. */
export function customResource(chart: { path: string }, values: Values, comment: string): string {
  const doc = {
    apiVersion: "apps.wandb.com/v1",
    kind: "WeightsAndBiases",
    metadata: {
      labels: { "app.kubernetes.io/instance": OPERATOR_NAME, "app.kubernetes.io/name": "weightsandbiases" },
      name: OPERATOR_NAME,
      namespace: "default",
    },
    spec: { chart, values },
  };
  return `${comment.split("\n").map((l) => `# ${l}`.trimEnd()).join("\n")}\n${yamlText(doc)}`;
}

/** The `<name>-charts` ConfigMap holding chart archives (file name → bytes) in binaryData. */
export function chartsConfigMap(archives: { fileName: string; bytes: Uint8Array }[], comment: string): string {
  const binaryData: Record<string, string> = {};
  for (const a of archives) binaryData[a.fileName] = Buffer.from(a.bytes).toString("base64");
  const doc = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${OPERATOR_NAME}-charts` }, binaryData };
  return `${comment.split("\n").map((l) => `# ${l}`.trimEnd()).join("\n")}\n${yamlText(doc)}`;
}

export interface BundleFile {
  path: string;
  bytes: Buffer;
}

export interface ManifestFile {
  path: string;
  sha256: string;
  size: number;
}

export interface SteppingStoneEntry {
  /** Install order, from 1. */
  order: number;
  version: string;
  releaseId: string;
  /** Its directory in the bundle: spec.json, spec.jws and operator/. */
  dir: string;
  /** Its chart archive in the bundle, or its local path (referenced, not copied). */
  chart: { file: string } | { path: string };
}

export interface Manifest {
  /** The format of this manifest (docs/api.md §11). */
  format: "chartroom-bundle/v1";
  sub: string;
  channel: string;
  release: { id: string; version: string; chart: { file: string; source: string; sha256: string } | { path: string } };
  createdAt: string;
  files: ManifestFile[];
  steppingStones: SteppingStoneEntry[];
}

/** The manifest's file list: every file but manifest.json and manifest.jws, in bundle order. */
export function manifestFiles(files: BundleFile[]): ManifestFile[] {
  return files.map((f) => ({ path: f.path, sha256: sha256Hex(f.bytes), size: f.bytes.length }));
}

/** manifest.json's bytes: indented JSON, a final newline (people read it; the signature is over these bytes). */
export function manifestBytes(m: Manifest): Buffer {
  return Buffer.from(`${JSON.stringify(m, null, 2)}\n`, "utf8");
}

/** A file name for the bundle: `chartroom-<sub>-<channel>-<version>.tar.gz`, with nothing a shell or file system minds. */
export function bundleFileName(sub: string, channel: string, version: string): string {
  const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_").replace(/^[.]+/, "_").slice(0, 80);
  return `chartroom-${safe(sub)}-${safe(channel)}-${safe(version)}.tar.gz`;
}
