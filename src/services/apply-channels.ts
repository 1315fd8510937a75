// Declarative channels (docs/api.md §5): channels/<name>.yaml and
// channels/releases/<version>.yaml. `apply` creates what is missing, updates
// channel descriptions and default values, moves channels to their declared
// release under the promotion rules, and refuses a file that contradicts a
// stored (immutable) release. All of it in one transaction: a failure
// leaves the database as it was. A dry run runs the same transaction and
// rolls it back, so the plan it prints is exactly what apply would do.
import { readFileSync, readdirSync, existsSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { isDeepStrictEqual } from "node:util";
import YAML from "yaml";
import { z } from "zod";
import { DeclarationConflictError, fieldError, withField } from "../errors.js";
import { findPoisonedKey } from "../domain/values.js";
import { channelInputSchema, releaseInputSchema, releaseRef, type ChannelInput, type ReleaseInput } from "../domain/schemas.js";
import type { Repos, Store } from "../repositories/store.js";
import { nullWarnings, type Actor, type CatalogService, type PromotionResult } from "./catalog-service.js";

export const channelFileSchema = channelInputSchema.extend({ release: releaseRef.optional() });

export interface PlanStep {
  action: "create-release" | "create-channel" | "update-channel" | "move-channel";
  target: string;
  file: string;
  detail: string;
}

export interface ApplyResult {
  dryRun: boolean;
  steps: PlanStep[];
}

interface Declarations {
  releases: { file: string; input: ReleaseInput }[];
  channels: { file: string; input: ChannelInput; release?: string | undefined }[];
}

class DryRunRollback extends Error {
  constructor(readonly steps: PlanStep[]) {
    super("dry run");
  }
}

function issuePath(issue: z.core.$ZodIssue): string {
  return issue.path.map(String).join(".") || "(root)";
}

function parseFile<T>(file: string, root: string, schema: z.ZodType<T>): T {
  const rel = relative(root, file) || file;
  let data: unknown;
  try {
    data = YAML.parse(readFileSync(file, "utf8"), { maxAliasCount: 100 });
  } catch (err) {
    throw fieldError(rel, `is not valid YAML: ${(err as Error).message.split("\n")[0]}`);
  }
  const poisoned = findPoisonedKey(data);
  if (poisoned !== undefined) throw fieldError(`${rel}: ${poisoned}`, "is not allowed (prototype key)");
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const i = parsed.error.issues[0]!;
    throw fieldError(`${rel}: ${issuePath(i)}`, i.message);
  }
  return parsed.data;
}

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && statSync(join(dir, f)).isFile())
    .sort()
    .map((f) => join(dir, f));
}

/** Reads and validates every declaration under `dir`. */
export function readDeclarations(dir: string): Declarations {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw fieldError("dir", `${dir} is not a directory`);
  const releases = yamlFiles(join(dir, "releases")).map((file) => {
    const input = parseFile(file, dir, releaseInputSchema);
    const stem = basename(file).replace(/\.ya?ml$/, "");
    if (stem !== input.version) throw fieldError(`${relative(dir, file)}: version`, `is ${input.version} but the file is named ${stem}`);
    return { file: relative(dir, file), input };
  });
  const channels = yamlFiles(dir).map((file) => {
    const { release, ...input } = parseFile(file, dir, channelFileSchema);
    const stem = basename(file).replace(/\.ya?ml$/, "");
    if (stem !== input.name) throw fieldError(`${relative(dir, file)}: name`, `is ${input.name} but the file is named ${stem}`);
    return { file: relative(dir, file), input, release };
  });
  return { releases, channels };
}

/** The first field where a stored release and its file differ. */
function releaseDifference(stored: ReleaseInput, declared: ReleaseInput): string | undefined {
  for (const k of ["chart", "images", "values", "notes"] as const) {
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(stored[k])), JSON.parse(JSON.stringify(declared[k])))) return k;
  }
  return undefined;
}

export function applyChannels(store: Pick<Store, "transaction">, catalog: Pick<CatalogService, "move" | "movesCommitted">, onChange: () => void = () => {}) {
  async function run(repos: Repos, d: Declarations, actor: Actor): Promise<{ steps: PlanStep[]; moves: PromotionResult[] }> {
    const steps: PlanStep[] = [];
    const moves: PromotionResult[] = [];
    for (const { file, input } of d.releases) {
      const stored = await repos.releases.findByRef(input.version);
      if (stored) {
        const field = releaseDifference(stored, input);
        if (field) throw withField(new DeclarationConflictError(`${file}: ${field} differs from stored release ${input.version}; releases are immutable, publish a new version`), `${file}: ${field}`);
        continue;
      }
      const r = await repos.releases.create({ id: crypto.randomUUID(), ...input, createdBy: actor.sub });
      await repos.audit.add({ actor: actor.sub, action: "release.create", targetType: "release", target: r.version, after: input, requestId: actor.requestId });
      const nulls = nullWarnings(input.values, "values").map((w) => w.field);
      const warning = nulls.length > 0 ? ` (warning: null at ${nulls.join(", ")}: never served, removes the key from the channel's default values)` : "";
      steps.push({ action: "create-release", target: input.version, file, detail: `create release ${input.version}${warning}` });
    }
    for (const { file, input, release } of d.channels) {
      let channel = await repos.channels.findByName(input.name);
      if (!channel) {
        channel = await repos.channels.create({ id: crypto.randomUUID(), ...input });
        await repos.audit.add({ actor: actor.sub, action: "channel.create", targetType: "channel", target: input.name, after: input, requestId: actor.requestId });
        steps.push({ action: "create-channel", target: input.name, file, detail: `create channel ${input.name}` });
      } else if (channel.description !== input.description || !isDeepStrictEqual(channel.defaultValues, input.defaultValues)) {
        const before = { description: channel.description, defaultValues: channel.defaultValues };
        channel = await repos.channels.update(channel.id, { description: input.description, defaultValues: input.defaultValues });
        await repos.audit.add({ actor: actor.sub, action: "channel.update", targetType: "channel", target: input.name, before, after: { description: input.description, defaultValues: input.defaultValues }, requestId: actor.requestId });
        steps.push({ action: "update-channel", target: input.name, file, detail: `update description/defaultValues of ${input.name}` });
      }
      if (release !== undefined) {
        const target = await repos.releases.findByRef(release);
        if (!target) throw fieldError(`${file}: release`, `release ${release} is neither stored nor declared under releases/`);
        try {
          const moved = await catalog.move(repos, channel, target, { allowDowngrade: false, reason: `declared in ${file}`, forceAction: "declare" }, actor);
          moves.push(moved);
          if (moved.changed) steps.push({ action: "move-channel", target: input.name, file, detail: `move ${input.name} from ${moved.from?.version ?? "no release"} to ${target.version}` });
        } catch (err) {
          throw withField(err as Error, `${file}: release`);
        }
      }
    }
    if (steps.length > 0) await repos.state.bump("catalog");
    return { steps, moves };
  }

  return {
    async apply(dir: string, actor: Actor, opts: { dryRun?: boolean } = {}): Promise<ApplyResult> {
      const declarations = readDeclarations(dir);
      try {
        // The moves of the attempt that committed (a retried transaction runs again).
        const { steps, moves } = await store.transaction(async (repos) => {
          const s = await run(repos, declarations, actor);
          if (opts.dryRun) throw new DryRunRollback(s.steps);
          return s;
        });
        if (steps.length > 0) onChange();
        catalog.movesCommitted(moves);
        return { dryRun: false, steps };
      } catch (err) {
        if (err instanceof DryRunRollback) return { dryRun: true, steps: err.steps };
        throw err;
      }
    },
  };
}
export type ApplyChannels = ReturnType<typeof applyChannels>;
