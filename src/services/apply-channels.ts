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
import { DeclarationConflictError, UniqueViolationError, fieldError, withField } from "../errors.js";
import { YamlDataError, parsePlainYaml } from "../domain/plain-yaml.js";
import { describeIssues, issuesText } from "../domain/issues.js";
import { findPoisonedKey } from "../domain/values.js";
import { DECLARATION_LIMITS, findDeclarationFiles, readDeclarationFile, type DeclarationFile, type DeclarationLimits } from "./declaration-files.js";
import { channelInputSchema, reasonText, releaseInputSchema, releaseRef, rolloutInputSchema, type Channel, type ChannelInput, type ReleaseInput, type RolloutInput } from "../domain/schemas.js";
import type { Repos, Store } from "../repositories/store.js";
import type { Release } from "../domain/schemas.js";
import { refuseIfFrozen } from "./freeze-service.js";
import { nullWarnings, type Actor, type CatalogService, type PromotionResult } from "./catalog-service.js";
import { decideDeclaredRelease, percentsText } from "./declared-release-rules.js";
import { jsonDiff, servedValues, type PatchOp } from "./promotion-preview.js";
import { subjectOf } from "../domain/webhook-events.js";

/**
 * A release file: the release, and whether it is a required stepping stone
 * (docs/api.md §8; the one property of a release a file may change later,
 * with its reason). Without `required` the file leaves it as it is.
 */
export const releaseFileSchema = releaseInputSchema.extend({ required: z.boolean().optional(), requiredReason: reasonText.optional() });
export type ReleaseFile = z.infer<typeof releaseFileSchema>;

/** A channel file: the channel, its `release`, and how it reaches the release (`rollout`, docs/api.md §7). */
export const channelFileSchema = channelInputSchema.extend({ release: releaseRef.optional(), rollout: rolloutInputSchema.optional() });

export interface PlanStep {
  action: "create-release" | "mark-required" | "create-channel" | "update-channel" | "move-channel" | "start-rollout";
  target: string;
  file: string;
  detail: string;
  /**
   * update-channel, move-channel, start-rollout: RFC 6902, from the values
   * the channel serves now to those it serves after the step (no
   * licensee's overrides); empty when they do not change, absent for a
   * channel's first release (it would be all its values).
   */
  valuesDiff?: PatchOp[];
}

/** What apply refused: a real apply stops at the first; a dry run lists every one and goes on. */
export interface PlanConflict {
  target: string;
  file: string;
  /** The status and code the real apply would fail with. */
  statusCode: number;
  code: string;
  field?: string | undefined;
  message: string;
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
  /** Only a dry run has any: every refusal, each with the file and field at fault (a real apply throws the first). */
  conflicts: PlanConflict[];
}

export interface Declarations {
  releases: { file: string; input: ReleaseFile }[];
  channels: { file: string; input: ChannelInput; release?: string | undefined; rollout?: RolloutInput | undefined }[];
}

interface Plan {
  steps: PlanStep[];
  notes: PlanNote[];
  conflicts: PlanConflict[];
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

/**
 * Declarations sent as JSON (POST /api/v1/admin/apply, docs/api.md §3): the
 * files' content, already validated by the route's schema. Each is named in
 * messages as the file it would be in a directory (stable.yaml,
 * releases/<version>.yaml), so a refusal reads as it does for `chartroom apply DIR`.
 */
export function declarationsOf(body: { channels: z.infer<typeof channelFileSchema>[]; releases: ReleaseFile[] }): Declarations {
  const seen = new Set<string>();
  const once = (file: string, field: string) => {
    if (seen.has(file)) throw fieldError(field, `declares ${file} twice`);
    seen.add(file);
  };
  const releases = body.releases.map((input, i) => {
    const file = `releases/${input.version}.yaml`;
    once(file, `releases.${i}.version`);
    return { file, input };
  });
  const channels = body.channels.map(({ release, rollout, ...input }, i) => {
    const file = `${input.name}.yaml`;
    once(file, `channels.${i}.name`);
    if (rollout !== undefined && release === undefined) throw fieldError(`channels.${i}.rollout`, "needs release: a rollout is how the channel reaches its declared release; add release: <version> or remove rollout");
    return { file, input, release, rollout };
  });
  return { releases, channels };
}

/**
 * The channels in the order apply takes them: a channel after the upstream
 * its policy declares (so the upstream exists, and has moved, when it is
 * checked), else in file order. Channels on a cycle come in the order the
 * walk meets them; the upstream check refuses the one that closes it.
 */
export function upstreamFirst<T extends { input: Pick<ChannelInput, "name" | "policy"> }>(channels: T[]): T[] {
  const byName = new Map(channels.map((c) => [c.input.name, c]));
  const out: T[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (c: T) => {
    if (state.has(c.input.name)) return;
    state.set(c.input.name, "visiting");
    const up = c.input.policy.upstream;
    const u = up !== undefined ? byName.get(up) : undefined;
    if (u) visit(u);
    state.set(c.input.name, "done");
    out.push(c);
  };
  for (const c of channels) visit(c);
  return out;
}

/** A refusal a dry run lists and goes on after: a catalogue 4xx (not a database error, which aborts PostgreSQL's transaction). */
function isRefusal(err: unknown): err is Error & { code: string; statusCode: number; field?: string } {
  const e = err as { statusCode?: unknown; code?: unknown };
  return typeof e?.statusCode === "number" && e.statusCode >= 400 && e.statusCode < 500 && typeof e.code === "string" && !(err instanceof UniqueViolationError);
}

/** The first field where a stored release and its file differ (`required` aside: it may change). */
function releaseDifference(stored: Release, declared: ReleaseInput): string | undefined {
  for (const k of ["chart", "images", "values", "notes"] as const) {
    if (!isDeepStrictEqual(JSON.parse(JSON.stringify(stored[k])), JSON.parse(JSON.stringify(declared[k])))) return k;
  }
  if ((stored.upgradeFrom ?? null) !== (declared.upgradeFrom ?? null)) return "upgradeFrom";
  return undefined;
}

export function applyChannels(store: Pick<Store, "transaction">, catalog: Pick<CatalogService, "move" | "promoteWithRollout" | "movesCommitted" | "markRequired" | "refuseBadUpstream">, onChange: () => void = () => {}) {
  async function served(repos: Repos, channel: Pick<Channel, "defaultValues" | "releaseId">) {
    return servedValues(channel, channel.releaseId ? await repos.releases.findByRef(channel.releaseId) : null);
  }

  async function run(repos: Repos, d: Declarations, actor: Actor, opts: ApplyOptions): Promise<Plan & { moves: PromotionResult[] }> {
    const steps: PlanStep[] = [];
    const notes: PlanNote[] = [];
    const conflicts: PlanConflict[] = [];
    const moves: PromotionResult[] = [];
    /** A dry run notes a refusal and goes on (the plan shows every one); a real apply stops at the first. */
    const attempt = async (target: string, file: string, fn: () => Promise<void>): Promise<boolean> => {
      try {
        await fn();
        return true;
      } catch (err) {
        if (!opts.dryRun || !isRefusal(err)) throw err;
        conflicts.push({ target, file, statusCode: err.statusCode, code: err.code, field: err.field, message: err.message });
        return false;
      }
    };
    // An empty database is seeded, not promoted: the declared releases are where its channels start,
    // so their policies bind every later move but not this one (docs/decisions.md).
    const seeding = (await repos.channels.list()).length === 0 && (await repos.releases.list({ limit: 1 })).items.length === 0;
    // The freeze lock before any row lock, in the order a promotion takes them (no deadlock with a freeze and a promotion).
    if (!opts.ignoreFreeze && d.channels.some((c) => c.release !== undefined)) await repos.freeze.read("share");
    for (const { file, input: declared } of d.releases) {
      const { required, requiredReason, ...input } = declared;
      await attempt(input.version, file, async () => {
        const stored = await repos.releases.findByRef(input.version);
        if (stored) {
          const field = releaseDifference(stored, input);
          if (field) throw withField(new DeclarationConflictError(`${file}: ${field} differs from stored release ${input.version}; releases are immutable, publish a new version`), `${file}: ${field}`);
          if (required !== undefined && required !== stored.required) {
            await catalog.markRequired(repos, stored, { required, reason: requiredReason ?? `declared in ${file}` }, actor);
            steps.push({ action: "mark-required", target: input.version, file, detail: `${required ? "mark" : "unmark"} release ${input.version} required` });
          }
          return;
        }
        const r = await repos.releases.create({ id: crypto.randomUUID(), ...input, createdBy: actor.sub });
        await repos.audit.add({ actor: actor.sub, action: "release.create", targetType: "release", target: r.version, after: input, requestId: actor.requestId });
        if (required) await catalog.markRequired(repos, r, { required, reason: requiredReason ?? `declared in ${file}` }, actor);
        await repos.outbox.add("release.created", subjectOf.release(r.version), { release: { id: r.id, version: r.version }, by: actor.sub });
        const nulls = nullWarnings(input.values, "values").map((w) => w.field);
        const warning = nulls.length > 0 ? ` (warning: null at ${nulls.join(", ")}: never served, removes the key from the channel's default values)` : "";
        steps.push({ action: "create-release", target: input.version, file, detail: `create release ${input.version}${warning}` });
      });
    }
    for (const { file, input, release, rollout } of upstreamFirst(d.channels)) {
      let channel = await repos.channels.findByName(input.name);
      const wrote = await attempt(input.name, file, async () => {
        await catalog.refuseBadUpstream(repos, input.name, input.policy, `${file}: policy.upstream`);
        if (!channel) {
          channel = await repos.channels.create({ id: crypto.randomUUID(), ...input });
          await repos.audit.add({ actor: actor.sub, action: "channel.create", targetType: "channel", target: input.name, after: input, requestId: actor.requestId });
          steps.push({ action: "create-channel", target: input.name, file, detail: `create channel ${input.name}` });
          return;
        }
        const changed = (["description", "defaultValues", "policy"] as const).filter((k) => !isDeepStrictEqual(JSON.parse(JSON.stringify(channel![k])), JSON.parse(JSON.stringify(input[k]))));
        if (changed.length === 0) return;
        const before = { description: channel.description, defaultValues: channel.defaultValues, policy: channel.policy };
        const servedBefore = await served(repos, channel);
        channel = await repos.channels.update(channel.id, { description: input.description, defaultValues: input.defaultValues, policy: input.policy });
        await repos.audit.add({ actor: actor.sub, action: "channel.update", targetType: "channel", target: input.name, before, after: { description: input.description, defaultValues: input.defaultValues, policy: input.policy }, requestId: actor.requestId });
        steps.push({ action: "update-channel", target: input.name, file, detail: `update ${changed.join(", ")} of ${input.name}`, valuesDiff: jsonDiff(servedBefore, await served(repos, channel)) });
      });
      if (!wrote || release === undefined || !channel) continue;
      const at: Channel = channel;
      await attempt(input.name, file, async () => {
        const target = await repos.releases.findByRef(release);
        if (!target) throw fieldError(`${file}: release`, `release ${release} is neither stored nor declared under releases/`);
        const decision = decideDeclaredRelease({
          channel: input.name,
          file,
          current: at.releaseId,
          target,
          declared: rollout,
          active: await repos.rollouts.activeOf(at.id),
          lastOfTarget: await repos.rollouts.latestOfRelease(at.id, target.id),
        });
        if (decision.kind === "refuse") throw withField(new DeclarationConflictError(decision.message), `${file}: release`);
        if (decision.kind === "nothing") {
          if (decision.note) notes.push({ target: input.name, file, detail: decision.note });
          return;
        }
        try {
          const reason = `declared in ${file}`;
          const moved = rollout
            ? await catalog.promoteWithRollout(repos, at, target, { allowDowngrade: false, reason, rollout, ignorePolicy: seeding }, actor)
            : await catalog.move(repos, at, target, { allowDowngrade: false, reason, forceAction: "declare", ignorePolicy: seeding }, actor);
          // A move or a rollout is a promotion: refused while frozen (a declaration already in force is not a move).
          const doing = moved.rollout ? `starting a rollout of ${target.version} on channel ${input.name}` : `moving channel ${input.name} to ${target.version}`;
          if (moved.changed && !opts.ignoreFreeze) await refuseIfFrozen(repos, `apply ${doing} (declared in ${file})`);
          moves.push(moved);
          const from = moved.from?.version ?? "no release";
          // A channel's first release has no diff: it would be all its values.
          const diff = moved.from ? { valuesDiff: jsonDiff(servedValues(at, moved.from), servedValues(at, target)) } : {};
          if (moved.rollout) {
            const n = moved.rollout.steps.length;
            steps.push({ action: "start-rollout", target: input.name, file, detail: `${input.name}: ${from} → ${target.version} in ${n} step${n === 1 ? "" : "s"} ${percentsText(moved.rollout.steps)}`, ...diff });
          } else if (moved.changed) {
            steps.push({ action: "move-channel", target: input.name, file, detail: `move ${input.name} from ${from} to ${target.version}`, ...diff });
          }
        } catch (err) {
          // The rules name the promote body's fields ("release", "rollout"): here, the file's.
          throw withField(err as Error, (err as { field?: string }).field === "rollout" ? `${file}: rollout` : `${file}: release`);
        }
      });
    }
    if (steps.length > 0) await repos.state.bump("catalog");
    return { steps, notes, conflicts, moves };
  }

  /** Applies declarations in one transaction; a dry run runs the same transaction and rolls it back. */
  async function applyDeclarations(declarations: Declarations, actor: Actor, opts: ApplyOptions): Promise<ApplyResult> {
    try {
      // The moves of the attempt that committed (a retried transaction runs again).
      const { steps, notes, moves } = await store.transaction(async (repos) => {
        const s = await run(repos, declarations, actor, opts);
        if (opts.dryRun) throw new DryRunRollback({ steps: s.steps, notes: s.notes, conflicts: s.conflicts });
        return s;
      });
      if (steps.length > 0) onChange();
      catalog.movesCommitted(moves);
      return { dryRun: false, steps, notes, conflicts: [] };
    } catch (err) {
      if (err instanceof DryRunRollback) return { dryRun: true, ...err.plan };
      throw err;
    }
  }

  return {
    /** `chartroom apply DIR` (local) and the first boot: the files under `dir`. */
    async apply(dir: string, actor: Actor, opts: ApplyOptions = {}): Promise<ApplyResult> {
      return applyDeclarations(readDeclarations(dir), actor, opts);
    },
    /** POST /api/v1/admin/apply: the same declarations sent as JSON (declarationsOf). */
    applyDeclarations,
  };
}
export type ApplyChannels = ReturnType<typeof applyChannels>;
