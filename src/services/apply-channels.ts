// Declarative channels (docs/api.md §5): channels/<name>.yaml and
// channels/releases/<version>.yaml. `apply` creates what is missing, updates
// channel descriptions and default values, moves channels to their declared
// release under the promotion rules (or starts the rollout a file declares
// with it, src/services/declared-release-rules.ts), and refuses a file that
// contradicts a stored (immutable) release. All of it in one transaction: a failure
// leaves the database as it was. A dry run runs the same transaction and
// rolls it back, so the plan it prints is exactly what apply would do.
//
// DIR is read through declaration-files.ts (nothing outside DIR, size and
// count limits) and parsed as plain-data YAML (src/domain/plain-yaml.ts),
// all of it before the transaction starts.
import { basename } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { DeclarationConflictError, fieldError, withField } from "../errors.js";
import { YamlDataError, parsePlainYaml } from "../domain/plain-yaml.js";
import { describeIssues, issuesText } from "../domain/issues.js";
import { findPoisonedKey } from "../domain/values.js";
import { DECLARATION_LIMITS, findDeclarationFiles, readDeclarationFile, type DeclarationFile, type DeclarationLimits } from "./declaration-files.js";
import { channelInputSchema, releaseInputSchema, releaseRef, rolloutInputSchema, type ChannelInput, type ReleaseInput, type RolloutInput } from "../domain/schemas.js";
import type { Repos, Store } from "../repositories/store.js";
import type { Release } from "../domain/schemas.js";
import { refuseIfFrozen } from "./freeze-service.js";
import { nullWarnings, type Actor, type CatalogService, type PromotionResult } from "./catalog-service.js";
import { decideDeclaredRelease, percentsText } from "./declared-release-rules.js";
import { subjectOf } from "../domain/webhook-events.js";

/**
 * A release file: the release, and whether it is a required stepping stone
 * (docs/api.md §8; the one property of a release a file may change later,
 * with its reason). Without `required` the file leaves it as it is.
 */
export const releaseFileSchema = releaseInputSchema.extend({ required: z.boolean().optional(), requiredReason: z.string().min(1).max(1000).optional() });
export type ReleaseFile = z.infer<typeof releaseFileSchema>;

/** A channel file: the channel, its `release`, and how it reaches the release (`rollout`, docs/api.md §7). */
export const channelFileSchema = channelInputSchema.extend({ release: releaseRef.optional(), rollout: rolloutInputSchema.optional() });

export interface PlanStep {
  action: "create-release" | "mark-required" | "create-channel" | "update-channel" | "move-channel" | "start-rollout";
  target: string;
  file: string;
  detail: string;
}

/** Something the plan says that changes nothing (a running rollout the file describes otherwise). */
export interface PlanNote {
  target: string;
  file: string;
  detail: string;
}

export interface ApplyResult {
  dryRun: boolean;
  steps: PlanStep[];
  notes: PlanNote[];
}

interface Declarations {
  releases: { file: string; input: ReleaseFile }[];
  channels: { file: string; input: ChannelInput; release?: string | undefined; rollout?: RolloutInput | undefined }[];
}

interface Plan {
  steps: PlanStep[];
  notes: PlanNote[];
}

export interface ApplyOptions {
  dryRun?: boolean;
  /**
   * Move channels even while promotions are frozen: only the first boot,
   * which loads an empty database that serves nobody yet (src/boot.ts).
   */
  ignoreFreeze?: boolean;
}

class DryRunRollback extends Error {
  constructor(readonly plan: Plan) {
    super("dry run");
  }
}

function parseFile<T>(file: DeclarationFile, limits: DeclarationLimits, schema: z.ZodType<T>): T {
  const rel = file.rel;
  let data: unknown;
  try {
    data = parsePlainYaml(readDeclarationFile(file, limits));
  } catch (err) {
    if (err instanceof YamlDataError) throw fieldError(rel, err.message);
    throw err;
  }
  const poisoned = findPoisonedKey(data);
  if (poisoned !== undefined) throw fieldError(`${rel}: ${poisoned}`, "is not allowed (prototype key)");
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    // Every problem of the file at once, worded as the API words them (src/domain/issues.ts).
    const problems = describeIssues(parsed.error.issues, "(root)").map((p) => ({ field: `${rel}: ${p.field}`, reason: p.reason }));
    const first = problems[0]!;
    const err = fieldError(first.field, first.reason);
    if (problems.length > 1) {
      err.message = issuesText(problems);
      err.errors = problems;
    }
    throw err;
  }
  return parsed.data;
}

function stem(file: DeclarationFile): string {
  return basename(file.rel).replace(/\.ya?ml$/, "");
}

/** Reads and validates every declaration under `dir`, before anything is written. */
export function readDeclarations(dir: string, limits: DeclarationLimits = DECLARATION_LIMITS): Declarations {
  const files = findDeclarationFiles(dir, limits);
  const releases = files.releases.map((file) => {
    const input = parseFile(file, limits, releaseFileSchema);
    if (stem(file) !== input.version) throw fieldError(`${file.rel}: version`, `is ${input.version} but the file is named ${stem(file)}`);
    return { file: file.rel, input };
  });
  const channels = files.channels.map((file) => {
    const { release, rollout, ...input } = parseFile(file, limits, channelFileSchema);
    if (stem(file) !== input.name) throw fieldError(`${file.rel}: name`, `is ${input.name} but the file is named ${stem(file)}`);
    if (rollout !== undefined && release === undefined) throw fieldError(`${file.rel}: rollout`, "needs release: a rollout is how the channel reaches its declared release; add release: <version> or remove rollout");
    return { file: file.rel, input, release, rollout };
  });
  return { releases, channels };
}

/** The first field where a stored release and its file differ (`required` aside: it may change). */
function releaseDifference(stored: Release, declared: ReleaseInput): string | undefined {
  for (const k of ["chart", "images", "values", "notes"] as const) {
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(stored[k])), JSON.parse(JSON.stringify(declared[k])))) return k;
  }
  if ((stored.upgradeFrom ?? null) !== (declared.upgradeFrom ?? null)) return "upgradeFrom";
  return undefined;
}

export function applyChannels(store: Pick<Store, "transaction">, catalog: Pick<CatalogService, "move" | "promoteWithRollout" | "movesCommitted" | "markRequired">, onChange: () => void = () => {}) {
  async function run(repos: Repos, d: Declarations, actor: Actor, opts: ApplyOptions): Promise<Plan & { moves: PromotionResult[] }> {
    const steps: PlanStep[] = [];
    const notes: PlanNote[] = [];
    const moves: PromotionResult[] = [];
    // The freeze lock before any row lock, in the order a promotion takes them (no deadlock with a freeze and a promotion).
    if (!opts.ignoreFreeze && d.channels.some((c) => c.release !== undefined)) await repos.freeze.read("share");
    for (const { file, input: declared } of d.releases) {
      const { required, requiredReason, ...input } = declared;
      const stored = await repos.releases.findByRef(input.version);
      if (stored) {
        const field = releaseDifference(stored, input);
        if (field) throw withField(new DeclarationConflictError(`${file}: ${field} differs from stored release ${input.version}; releases are immutable, publish a new version`), `${file}: ${field}`);
        if (required !== undefined && required !== stored.required) {
          await catalog.markRequired(repos, stored, { required, reason: requiredReason ?? `declared in ${file}` }, actor);
          steps.push({ action: "mark-required", target: input.version, file, detail: `${required ? "mark" : "unmark"} release ${input.version} required` });
        }
        continue;
      }
      const r = await repos.releases.create({ id: crypto.randomUUID(), ...input, createdBy: actor.sub });
      await repos.audit.add({ actor: actor.sub, action: "release.create", targetType: "release", target: r.version, after: input, requestId: actor.requestId });
      if (required) await catalog.markRequired(repos, r, { required, reason: requiredReason ?? `declared in ${file}` }, actor);
      await repos.outbox.add("release.created", subjectOf.release(r.version), { release: { id: r.id, version: r.version }, by: actor.sub });
      const nulls = nullWarnings(input.values, "values").map((w) => w.field);
      const warning = nulls.length > 0 ? ` (warning: null at ${nulls.join(", ")}: never served, removes the key from the channel's default values)` : "";
      steps.push({ action: "create-release", target: input.version, file, detail: `create release ${input.version}${warning}` });
    }
    for (const { file, input, release, rollout } of d.channels) {
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
        const decision = decideDeclaredRelease({
          channel: input.name,
          file,
          current: channel.releaseId,
          target,
          declared: rollout,
          active: await repos.rollouts.activeOf(channel.id),
          lastOfTarget: await repos.rollouts.latestOfRelease(channel.id, target.id),
        });
        if (decision.kind === "refuse") throw withField(new DeclarationConflictError(decision.message), `${file}: release`);
        if (decision.kind === "nothing") {
          if (decision.note) notes.push({ target: input.name, file, detail: decision.note });
          continue;
        }
        try {
          const reason = `declared in ${file}`;
          const moved = rollout
            ? await catalog.promoteWithRollout(repos, channel, target, { allowDowngrade: false, reason, rollout }, actor)
            : await catalog.move(repos, channel, target, { allowDowngrade: false, reason, forceAction: "declare" }, actor);
          // A move or a rollout is a promotion: refused while frozen (a declaration already in force is not a move).
          const doing = moved.rollout ? `starting a rollout of ${target.version} on channel ${input.name}` : `moving channel ${input.name} to ${target.version}`;
          if (moved.changed && !opts.ignoreFreeze) await refuseIfFrozen(repos, `apply ${doing} (declared in ${file})`);
          moves.push(moved);
          const from = moved.from?.version ?? "no release";
          if (moved.rollout) {
            const n = moved.rollout.steps.length;
            steps.push({ action: "start-rollout", target: input.name, file, detail: `${input.name}: ${from} → ${target.version} in ${n} step${n === 1 ? "" : "s"} ${percentsText(moved.rollout.steps)}` });
          } else if (moved.changed) {
            steps.push({ action: "move-channel", target: input.name, file, detail: `move ${input.name} from ${from} to ${target.version}` });
          }
        } catch (err) {
          // The rules name the promote body's fields ("release", "rollout"): here, the file's.
          throw withField(err as Error, (err as { field?: string }).field === "rollout" ? `${file}: rollout` : `${file}: release`);
        }
      }
    }
    if (steps.length > 0) await repos.state.bump("catalog");
    return { steps, notes, moves };
  }

  return {
    async apply(dir: string, actor: Actor, opts: ApplyOptions = {}): Promise<ApplyResult> {
      const declarations = readDeclarations(dir);
      try {
        // The moves of the attempt that committed (a retried transaction runs again).
        const { steps, notes, moves } = await store.transaction(async (repos) => {
          const s = await run(repos, declarations, actor, opts);
          if (opts.dryRun) throw new DryRunRollback({ steps: s.steps, notes: s.notes });
          return s;
        });
        if (steps.length > 0) onChange();
        catalog.movesCommitted(moves);
        return { dryRun: false, steps, notes };
      } catch (err) {
        if (err instanceof DryRunRollback) return { dryRun: true, ...err.plan };
        throw err;
      }
    },
  };
}
export type ApplyChannels = ReturnType<typeof applyChannels>;
