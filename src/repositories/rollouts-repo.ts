// Rollouts (docs/api.md §7): one row per rollout, its state and current
// step. The rules of what may change live in src/services/rollout-rules.ts;
// src/services/rollout-service.ts writes every change in a transaction
// that also bumps the channel's row version (src/repositories/channels-repo.ts touch).
import { asJson, type Db, type Provider } from "../db/client.js";
import type { GateSpec, StoredRolloutStep } from "../domain/schemas.js";
import type { GateEvaluation } from "../services/gate-rules.js";
import type { RolloutState } from "../services/resolve-release.js";
import { cursorKey, toPage, type Page, type PageRequest } from "./paging.js";

export interface Rollout {
  id: string;
  channelId: string;
  releaseId: string;
  previousReleaseId: string | null;
  state: RolloutState;
  /** 0-based index into `steps`. */
  step: number;
  steps: StoredRolloutStep[];
  include: string[];
  exclude: string[];
  salt: string;
  reason: string | null;
  startedBy: string;
  startedAt: Date;
  stepStartedAt: Date;
  endedAt: Date | null;
  endedBy: string | null;
  endReason: string | null;
  /** The gates of every step, as written (docs/api.md §9); each step's own are in `steps`. */
  gates: GateSpec[];
  onFailure: "halt" | "rollback";
  /** The last evaluation of the current step's gates (src/services/gate-rules.ts), null before the first. */
  gateResults: GateEvaluation | null;
}

/** What a change of a rollout writes (the state machine's answer). */
export type RolloutChange = Partial<Pick<Rollout, "state" | "step" | "stepStartedAt" | "endedAt" | "endedBy" | "endReason">> & { gateResults?: GateEvaluation };

/** The states in which a rollout is the channel's active one. */
export const ACTIVE_STATES = ["progressing", "paused", "halted"] as const;

type Row = Awaited<ReturnType<Db["rollout"]["findFirstOrThrow"]>>;

function toRollout(r: Row): Rollout {
  return {
    id: r.id,
    channelId: r.channelId,
    releaseId: r.releaseId,
    previousReleaseId: r.previousReleaseId,
    state: r.state as RolloutState,
    step: r.step,
    // Rows written before gates existed have none on their steps.
    steps: r.steps as unknown as StoredRolloutStep[],
    include: r.include as string[],
    exclude: r.exclude as string[],
    salt: r.salt,
    reason: r.reason,
    startedBy: r.startedBy,
    startedAt: r.startedAt,
    stepStartedAt: r.stepStartedAt,
    endedAt: r.endedAt,
    endedBy: r.endedBy,
    endReason: r.endReason,
    gates: (r.gates as GateSpec[] | null) ?? [],
    onFailure: r.onFailure === "rollback" ? "rollback" : "halt",
    gateResults: (r.gateResults as GateEvaluation | null) ?? null,
  };
}

/**
 * The namespace of the progression locks: pg_try_advisory_xact_lock(int4, int4)
 * with the channel's hash second. Two-key advisory locks never collide with
 * the one-key ones of src/db/migrate.ts and src/repositories/freeze-repo.ts.
 */
export const PROGRESS_LOCK_NAMESPACE = 72_431_170;

export function rolloutsRepo(db: Pick<Db, "rollout" | "$queryRawUnsafe" | "$executeRawUnsafe">, provider: Provider) {
  return {
    /**
     * In a transaction: takes the channel's progression lock if no other
     * transaction holds it (PostgreSQL; held until it ends), so exactly one
     * replica progresses a rollout at a time. SQLite serializes every write
     * transaction already: always true there.
     */
    async tryLockProgress(channelId: string): Promise<boolean> {
      if (provider !== "postgresql") return true;
      const rows = await db.$queryRawUnsafe<{ locked: boolean }[]>(`SELECT pg_try_advisory_xact_lock(${PROGRESS_LOCK_NAMESPACE}, hashtext($1)) AS locked`, channelId);
      return rows[0]?.locked === true;
    },
    /**
     * In a transaction: waits for the channel's progression lock
     * (PostgreSQL; held until it ends). A person's controls of one channel
     * take it, so they run one after another, each reading what the one
     * before committed, instead of failing on each other's row version; the
     * scheduler's tryLockProgress skips the channel meanwhile. SQLite
     * serializes write transactions already.
     */
    async lockProgress(channelId: string): Promise<void> {
      if (provider !== "postgresql") return;
      await db.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(${PROGRESS_LOCK_NAMESPACE}, hashtext($1))`, channelId);
    },
    async create(r: Rollout): Promise<Rollout> {
      return toRollout(await db.rollout.create({ data: { ...r, steps: asJson(r.steps), include: asJson(r.include), exclude: asJson(r.exclude), gates: asJson(r.gates), gateResults: r.gateResults ? asJson(r.gateResults) : undefined } }));
    },
    async update(id: string, change: RolloutChange): Promise<Rollout> {
      const { gateResults, ...rest } = change;
      const data = gateResults ? { ...rest, gateResults: asJson(gateResults) } : rest;
      return toRollout(await db.rollout.update({ where: { id }, data }));
    },
    /** The channel's active rollout (progressing, paused or halted), if any. */
    async activeOf(channelId: string): Promise<Rollout | null> {
      const row = await db.rollout.findFirst({ where: { channelId, state: { in: [...ACTIVE_STATES] } }, orderBy: { startedAt: "desc" } });
      return row ? toRollout(row) : null;
    },
    /** The active rollout of the channel of that name, if any (read before the channel row: src/services/spec-service.ts readChannel). */
    async activeOfChannelNamed(name: string): Promise<Rollout | null> {
      const row = await db.rollout.findFirst({ where: { channel: { name }, state: { in: [...ACTIVE_STATES] } }, orderBy: { startedAt: "desc" } });
      return row ? toRollout(row) : null;
    },
    /** The channel's newest rollout, whatever its state. */
    async latestOf(channelId: string): Promise<Rollout | null> {
      const row = await db.rollout.findFirst({ where: { channelId }, orderBy: [{ startedAt: "desc" }, { id: "desc" }] });
      return row ? toRollout(row) : null;
    },
    /** The channel's newest rollout of one release, whatever its state (declarative apply, src/services/apply-channels.ts). */
    async latestOfRelease(channelId: string, releaseId: string): Promise<Rollout | null> {
      const row = await db.rollout.findFirst({ where: { channelId, releaseId }, orderBy: [{ startedAt: "desc" }, { id: "desc" }] });
      return row ? toRollout(row) : null;
    },
    /** Every rollout that can progress on its own: the scheduler's work list. */
    async progressing(): Promise<Rollout[]> {
      return (await db.rollout.findMany({ where: { state: "progressing" }, orderBy: { stepStartedAt: "asc" } })).map(toRollout);
    },
    /** Every active rollout, any channel (for the channel list). */
    async allActive(): Promise<Rollout[]> {
      return (await db.rollout.findMany({ where: { state: { in: [...ACTIVE_STATES] } } })).map(toRollout);
    },
    /** Newest first; the cursor is "startedAt|id" of the last row. */
    async list(channelId: string, page: PageRequest): Promise<Page<Rollout>> {
      const key = cursorKey(page.cursor, "rollout");
      let where: Record<string, unknown> = { channelId };
      if (key !== undefined) {
        const [at, id] = key.split("|");
        const startedAt = new Date(at ?? "");
        where = { channelId, OR: [{ startedAt: { lt: startedAt } }, { startedAt, id: { lt: id ?? "" } }] };
      }
      const rows = await db.rollout.findMany({ where, orderBy: [{ startedAt: "desc" }, { id: "desc" }], take: page.limit + 1 });
      return toPage(rows.map(toRollout), page.limit, (r) => `${r.startedAt.toISOString()}|${r.id}`);
    },
  };
}
export type RolloutsRepo = ReturnType<typeof rolloutsRepo>;
