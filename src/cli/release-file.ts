// `chartroom release init` and `chartroom release lint`: a commented release
// file to start from, and the server's own checks of one, offline. lint
// parses like `release create` (plain-data YAML or JSON) and validates with
// the schema POST /releases uses (releaseInputSchema, src/domain/schemas.ts),
// reporting every problem at once, each with its field.
import { writeFileSync } from "node:fs";
import { releaseInputSchema } from "../domain/schemas.js";
import { UsageError } from "./args.js";
import { describeIssues, type FieldReason } from "../domain/issues.js";
import { readReleaseFile } from "./remote.js";
import type { Result } from "./remote.js";

export const RELEASE_TEMPLATE = `# A Chartroom release. Once created (chartroom release create FILE) it is
# immutable: a change is a new version. Check this file offline first:
#   chartroom release lint FILE
#
# version: SemVer 2, no leading v. Quote it: YAML reads 1.0 as a number.
version: "0.1.0"

# chart: where the operator gets the Helm chart; one of three shapes:
#   a Helm repository: url (https://…), name and version (below);
#   an OCI registry:   url: oci://registry.example.com/charts/app, version;
#   a local chart on the operator's file system (air-gapped): path: /charts/app
chart:
  url: https://charts.example.com
  name: app
  version: "1.0.0"

# images: per component, a repository and a tag and/or a digest
# (sha256:<64 hex>). The spec renders each as Helm values,
# <component>.image.repository / .tag / .digest: images.app below becomes
# values.app.image.
images:
  app:
    repository: registry.example.com/app
    tag: "0.1.0"

# values: this release's Helm values. A licensee's spec is the channel's
# defaultValues, then these, then the images above, then the licensee's own
# override (chartroom license values set), each merged over the one before:
# mappings key by key, lists and scalars replaced, null removes a key.
values: {}

# notes: free text, shown by chartroom release show.
notes: ""
`;

/** Writes the template to `file` ("-": stdout); refuses to overwrite a file without --force. */
export function releaseInit(file: string, force: boolean): Result {
  if (file === "-") return { json: { template: RELEASE_TEMPLATE }, text: RELEASE_TEMPLATE };
  try {
    writeFileSync(file, RELEASE_TEMPLATE, { flag: force ? "w" : "wx" });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EEXIST") throw new UsageError(`${file} exists; pass --force to overwrite it, or name another file`);
    throw new UsageError(`${file}: cannot be written (${code ?? (err as Error).message})`);
  }
  return {
    json: { file },
    text: `wrote ${file}: edit version, chart and images, then: chartroom release lint ${file} && chartroom release create ${file}\n`,
  };
}

export interface LintResult {
  file: string;
  valid: boolean;
  version?: string | undefined;
  errors: FieldReason[];
}

/** Thrown when the file is read but is not a valid release: main() prints the result and exits 1. */
export class LintFailed extends Error {
  constructor(readonly result: Result) {
    super("lint failed");
    this.name = "LintFailed";
  }
}

export function releaseLint(file: string): Result {
  const data = readReleaseFile(file);
  const parsed = releaseInputSchema.safeParse(data);
  if (parsed.success) {
    const r: LintResult = { file, valid: true, version: parsed.data.version, errors: [] };
    return { json: r, text: `${file}: a valid release ${parsed.data.version}\n` };
  }
  const errors = describeIssues(parsed.error.issues);
  const r: LintResult = { file, valid: false, errors };
  const lines = errors.map((e) => `  ${e.field}: ${e.reason}\n`).join("");
  throw new LintFailed({ json: r, text: `${file}: ${errors.length} problem${errors.length === 1 ? "" : "s"}:\n${lines}` });
}
