// Checks a bundle offline (docs/api.md §11; chartroom bundle verify): every
// file's sha256 and size against manifest.json, manifest.jws over
// manifest.json and each spec.jws over its spec.json against the public spec
// keys (a JWKS), by kid; a file the manifest lists but the archive lacks, and
// one the archive holds but the manifest does not list, are problems too.
// Pure: the archive is read by src/services/bundle-archive.ts.
import { createHash } from "node:crypto";
import { verifyDetached } from "../licensing/spec-key.js";

export interface FileCheck {
  path: string;
  size: number;
  sha256: string;
}

export interface SignatureCheck {
  /** The .jws file. */
  file: string;
  /** The file it signs. */
  signs: string;
  kid?: string;
  /** The signature's iat, as an ISO date. */
  signedAt?: string;
}

export interface Problem {
  file: string;
  problem: string;
}

export interface VerifyReport {
  ok: boolean;
  sub?: string;
  channel?: string;
  release?: string;
  createdAt?: string;
  /** Files whose digest and size matched the manifest. */
  verified: FileCheck[];
  /** Signatures that verified. */
  signatures: SignatureCheck[];
  problems: Problem[];
}

const MANIFEST = "manifest.json";
const MANIFEST_JWS = "manifest.jws";
const hex = (b: Buffer) => createHash("sha256").update(b).digest("hex");

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The manifest's file entries, or a reason it has none usable. */
function manifestEntries(m: Record<string, unknown>): FileCheck[] | string {
  if (!Array.isArray(m.files)) return "has no files list";
  const out: FileCheck[] = [];
  for (const [i, f] of m.files.entries()) {
    if (!isObject(f) || typeof f.path !== "string" || typeof f.sha256 !== "string" || typeof f.size !== "number") return `files[${i}] is not {path, sha256, size}`;
    out.push({ path: f.path, sha256: f.sha256, size: f.size });
  }
  return out;
}

/** Verifies the files of a bundle (path → bytes) against public spec keys. */
export function verifyBundle(files: ReadonlyMap<string, Buffer>, jwks: { keys: unknown[] }): VerifyReport {
  const report: VerifyReport = { ok: false, verified: [], signatures: [], problems: [] };
  const problem = (file: string, text: string) => report.problems.push({ file, problem: text });

  const signature = (jwsPath: string, signedPath: string) => {
    const jws = files.get(jwsPath);
    const signed = files.get(signedPath);
    if (jws === undefined || signed === undefined) return; // reported as missing
    try {
      const { kid, iat } = verifyDetached(jws.toString("utf8").trim(), signed, jwks);
      report.signatures.push({ file: jwsPath, signs: signedPath, kid, signedAt: new Date(iat * 1000).toISOString() });
    } catch (err) {
      problem(jwsPath, `signature over ${signedPath} ${(err as Error).message}`);
    }
  };

  const raw = files.get(MANIFEST);
  if (raw === undefined) {
    problem(MANIFEST, "is missing: not a Chartroom bundle");
    return report;
  }
  let manifest: unknown;
  try {
    manifest = JSON.parse(raw.toString("utf8"));
  } catch {
    problem(MANIFEST, "is not JSON");
    return report;
  }
  if (!isObject(manifest)) {
    problem(MANIFEST, "is not a JSON object");
    return report;
  }
  if (typeof manifest.sub === "string") report.sub = manifest.sub;
  if (typeof manifest.channel === "string") report.channel = manifest.channel;
  const release = manifest.release;
  if (isObject(release) && typeof release.version === "string") report.release = release.version;
  if (typeof manifest.createdAt === "string") report.createdAt = manifest.createdAt;

  if (!files.has(MANIFEST_JWS)) problem(MANIFEST_JWS, "is missing: the manifest is not signed");
  signature(MANIFEST_JWS, MANIFEST);

  const entries = manifestEntries(manifest);
  if (typeof entries === "string") {
    problem(MANIFEST, entries);
    return report;
  }
  const listed = new Set<string>();
  for (const e of entries) {
    listed.add(e.path);
    const bytes = files.get(e.path);
    if (bytes === undefined) {
      problem(e.path, "is missing (listed in manifest.json)");
      continue;
    }
    const sha = hex(bytes);
    if (bytes.length !== e.size || sha !== e.sha256) {
      problem(e.path, `does not match manifest.json: sha256 ${sha}, ${bytes.length} bytes; the manifest says ${e.sha256}, ${e.size} bytes`);
      continue;
    }
    report.verified.push({ path: e.path, size: e.size, sha256: sha });
  }
  for (const path of [...files.keys()].sort()) {
    if (path !== MANIFEST && path !== MANIFEST_JWS && !listed.has(path)) problem(path, "is not listed in manifest.json");
  }

  // Each spec.json is signed (the bundle's and each stepping stone's).
  const specs = entries.map((e) => e.path).filter((p) => p === "spec.json" || p.endsWith("/spec.json"));
  if (!specs.includes("spec.json")) problem("spec.json", "is not listed in manifest.json");
  for (const spec of specs) {
    const jws = spec.replace(/spec\.json$/, "spec.jws");
    if (!listed.has(jws)) problem(jws, `is not listed in manifest.json: ${spec} is unsigned`);
    else signature(jws, spec);
  }

  report.ok = report.problems.length === 0;
  return report;
}
