import { asJson, type Db } from "../db/client.js";
import type { Chart, Images, Release } from "../domain/schemas.js";
import type { Values } from "../domain/values.js";
import { cursorKey, toPage, type Page, type PageRequest } from "./paging.js";

type Row = Awaited<ReturnType<Db["release"]["findFirstOrThrow"]>>;

export function toRelease(r: Row): Release {
  return { ...r, chart: r.chart as Chart, images: r.images as Images, values: r.values as Values };
}

/** What creating a release stores; the rest (createdAt, yank fields) the database fills. */
export type NewRelease = Pick<Release, "id" | "version" | "chart" | "images" | "values" | "notes" | "createdBy"> & { upgradeFrom?: string | null | undefined };

export function releasesRepo(db: Pick<Db, "release">) {
  return {
    async create(r: NewRelease): Promise<Release> {
      return toRelease(await db.release.create({ data: { ...r, chart: asJson(r.chart), images: asJson(r.images), values: asJson(r.values) } }));
    },
    /** By id or by version. */
    async findByRef(ref: string): Promise<Release | null> {
      const row = await db.release.findFirst({ where: { OR: [{ id: ref }, { version: ref }] } });
      return row ? toRelease(row) : null;
    },
    async findByIds(ids: string[]): Promise<Release[]> {
      return (await db.release.findMany({ where: { id: { in: ids } } })).map(toRelease);
    },
    /** Newest first; the cursor is the sort key "createdAt|id" of the last row. */
    async list(page: PageRequest): Promise<Page<Release>> {
      const key = cursorKey(page.cursor, "release");
      let where = {};
      if (key !== undefined) {
        const [at, id] = key.split("|");
        const createdAt = new Date(at ?? "");
        where = { OR: [{ createdAt: { lt: createdAt } }, { createdAt, id: { lt: id ?? "" } }] };
      }
      const rows = await db.release.findMany({ where, orderBy: [{ createdAt: "desc" }, { id: "desc" }], take: page.limit + 1 });
      return toPage(rows.map(toRelease), page.limit, (r) => `${r.createdAt.toISOString()}|${r.id}`);
    },
    async all(): Promise<Release[]> {
      return (await db.release.findMany({ orderBy: { createdAt: "asc" } })).map(toRelease);
    },
    /** Marks or unmarks a stepping stone (docs/api.md §8): who, when and why are kept with it. */
    async setRequired(id: string, required: boolean, by: string, reason: string, at: Date): Promise<Release> {
      return toRelease(await db.release.update({ where: { id }, data: { required, requiredBy: by, requiredReason: reason, requiredAt: at } }));
    },
    async yank(id: string, by: string, reason: string, at: Date): Promise<Release> {
      return toRelease(await db.release.update({ where: { id }, data: { yankedAt: at, yankedBy: by, yankReason: reason } }));
    },
  };
}
export type ReleasesRepo = ReturnType<typeof releasesRepo>;
