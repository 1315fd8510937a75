// Commands that talk to a running server over the admin API (docs/api.md §3).
// Each returns the server's JSON answer and its human-readable rendering;
// main() prints one or the other (--json).
import { YamlDataError, parsePlainYaml } from "../domain/plain-yaml.js";
import { readFileBounded } from "../services/declaration-files.js";
import { UsageError } from "./args.js";
import { seg, type Client } from "./client.js";
import { dash, describeChart, fields, table, when, yamlText } from "./format.js";
// The answers' types are the routes' zod schemas (type-only: no zod at run time).
import type { ChannelDetailDto, ChannelListDto, DryRunDto, EventDto, HistoryPageDto, PromotionDto } from "../routes/admin/dto/channels.js";
import { coloured, dryRunLines, plain } from "./diff-text.js";
import { isRollout, rolloutBody, startedText, summaryCell, type RolloutOptions } from "./rollout.js";
import type { ReleaseDto, ReleasePageDto, ReleaseRefDto } from "../routes/admin/dto/releases.js";
import type { ResolveDto } from "../routes/admin/dto/resolve.js";
import type { YankDto } from "../routes/admin/dto/channels.js";
import type { ApplyDto } from "../routes/admin/apply-routes.js";
import { readDeclarations } from "../services/apply-channels.js";
import type { AppliedPlan } from "./local.js";

export interface Result {
  json: unknown;
  text: string;
  /** A note for stderr (next page hints), kept off stdout. */
  note?: string;
  /** `text` with ANSI colours, every piece already terminal-safe: printed instead of it on a terminal (not with NO_COLOR). */
  tty?: string;
  /** The exit code when not 0 (a dry run of apply that found conflicts: 1). */
  exitCode?: number;
}

function releaseCell(r: ReleaseRefDto): string {
  if (!r) return "-";
  return r.yanked ? `${r.version} (yanked)` : r.version;
}

function yamlBlock(title: string, v: Record<string, unknown>): string {
  if (Object.keys(v).length === 0) return `${title}: {}\n`;
  const body = yamlText(v).trimEnd();
  return `${title}:\n${body.split("\n").map((l) => `  ${l}`).join("\n")}\n`;
}

function nextPage(p: { nextCursor: string | null }, command: string): string | undefined {
  return p.nextCursor ? `more: ${command} --cursor ${p.nextCursor}\n` : undefined;
}

function historyTable(items: EventDto[]): string {
  if (items.length === 0) return "no history\n";
  return table(
    ["TIME", "ACTION", "FROM", "TO", "ACTOR", "REASON"],
    items.map((e) => [when(e.createdAt), e.action, dash(e.fromVersion), dash(e.toVersion), e.actor, dash(e.reason)]),
  );
}

export async function channels(c: Client): Promise<Result> {
  const data = (await c.get("/channels")) as ChannelListDto;
  const text =
    data.items.length === 0
      ? "no channels\n"
      : table(
          ["NAME", "RELEASE", "UPDATED", "DESCRIPTION"],
          // An active rollout shows next to the release the channel keeps until it completes.
          data.items.map((ch) => [ch.name, `${releaseCell(ch.release)}${ch.rollout ? `, rolling out ${summaryCell(ch.rollout)}` : ""}`, when(ch.updatedAt), ch.description]),
        );
  return { json: data, text };
}

/** "upstream beta, minSoak 2h, downgrades need admin", or "none". */
function policyCell(p: ChannelDetailDto["policy"]): string {
  const parts = [p.upstream ? `upstream ${p.upstream}` : "", p.minSoak ? `minSoak ${p.minSoak}` : "", p.downgradeRole ? `downgrades need ${p.downgradeRole}` : ""].filter(Boolean);
  return parts.length > 0 ? parts.join(", ") : "none";
}

export async function channel(c: Client, name: string): Promise<Result> {
  const ch = (await c.get(`/channels/${seg(name)}`)) as ChannelDetailDto;
  const text =
    fields([
      ["name", ch.name],
      ["description", dash(ch.description)],
      ["release", releaseCell(ch.release)],
      ["rollout", ch.rollout ? `${summaryCell(ch.rollout)}; chartroom rollout status ${ch.name}` : "none"],
      ["policy", policyCell(ch.policy)],
      ["created", when(ch.createdAt)],
      ["updated", when(ch.updatedAt)],
    ]) +
    yamlBlock("defaultValues", ch.defaultValues) +
    "\nrecent history:\n" +
    historyTable(ch.history);
  return { json: ch, text };
}

export async function releases(c: Client, q: { limit?: number | undefined; cursor?: string | undefined }): Promise<Result> {
  const data = (await c.get("/releases", q)) as ReleasePageDto;
  const text =
    data.items.length === 0
      ? "no releases\n"
      : table(
          ["VERSION", "CHART", "CREATED", "YANKED"],
          data.items.map((r) => [r.version, describeChart(r.chart), when(r.createdAt), r.yanked ? `yes (${when(r.yankedAt)})` : "no"]),
        );
  const note = nextPage(data, `chartroom releases${q.limit ? ` --limit ${q.limit}` : ""}`);
  return { json: data, text, ...(note ? { note } : {}) };
}

function releaseText(r: ReleaseDto): string {
  const images = Object.entries(r.images);
  return (
    fields([
      ["version", r.version],
      ["id", r.id],
      ["chart", describeChart(r.chart)],
      ["created", `${when(r.createdAt)} by ${r.createdBy}`],
      ["yanked", r.yanked ? `${when(r.yankedAt)} by ${dash(r.yankedBy)}: ${dash(r.yankReason)}` : "no"],
      ["required", r.required ? `yes, since ${when(r.requiredAt)} by ${dash(r.requiredBy)}: ${dash(r.requiredReason)}` : "no"],
      ["upgradeFrom", r.upgradeFrom ?? "any installed version"],
      ["notes", dash(r.notes)],
    ]) +
    (images.length === 0
      ? "images: none\n"
      : "images:\n" +
        table(
          ["  COMPONENT", "REPOSITORY", "TAG", "DIGEST"],
          images.map(([name, i]) => [`  ${name}`, dash(i.repository), dash(i.tag), dash(i.digest)]),
        )) +
    yamlBlock("values", r.values)
  );
}

export async function releaseShow(c: Client, version: string): Promise<Result> {
  const r = (await c.get(`/releases/${seg(version)}`)) as ReleaseDto;
  return { json: r, text: releaseText(r) };
}

/**
 * The biggest file the CLI reads to send (a release, a values override): the
 * most the server's BODY_LIMIT_BYTES can be set to (src/config.ts), so no
 * file a server could accept is refused here.
 */
export const MAX_INPUT_BYTES = 64 * 1024 * 1024;

/** Parses plain-data YAML or JSON (JSON is YAML) that must hold one mapping; `source` names it in messages. */
export function parseMapping(text: string, source: string, what: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = parsePlainYaml(text);
  } catch (err) {
    if (!(err instanceof YamlDataError)) throw err;
    throw new UsageError(`${source}: ${err.message.replace("not valid YAML", "not valid YAML or JSON")}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) throw new UsageError(`${source} must hold ${what}`);
  return data as Record<string, unknown>;
}

export function readTextFile(file: string): string {
  try {
    return readFileBounded(file, file, MAX_INPUT_BYTES);
  } catch (err) {
    // "FILE: cannot be read (ENOENT)", "FILE: is N bytes, over the limit of 64 MiB per file", …
    throw new UsageError((err as Error).message);
  }
}

/** Reads a release from a YAML or JSON file. */
export function readReleaseFile(file: string): unknown {
  return parseMapping(readTextFile(file), file, "one release (a mapping with version, chart, …)");
}

export async function releaseCreate(c: Client, file: string): Promise<Result> {
  const body = readReleaseFile(file);
  const r = (await c.post("/releases", body)) as ReleaseDto;
  return { json: r, text: `created release ${r.version} (id ${r.id})\n` };
}

function promotionText(p: PromotionDto): string {
  if (!p.changed) return `${p.message}\n`;
  return `${p.message} (was ${releaseCell(p.from)})\n`;
}

export async function promote(
  c: Client,
  version: string,
  o: {
    to: string;
    from?: string | undefined;
    expect?: string | undefined;
    allowDowngrade: boolean;
    reason?: string | undefined;
    dryRun?: boolean;
    /** Staged (docs/api.md §7): the answer is then 202 with the rollout. */
    rollout?: RolloutOptions | undefined;
  },
): Promise<Result> {
  const body: Record<string, unknown> = { release: version };
  if (o.from !== undefined) body.from = o.from;
  if (o.expect !== undefined) body.expectedCurrent = o.expect === "none" ? null : o.expect;
  if (o.allowDowngrade) body.allowDowngrade = true;
  if (o.reason !== undefined) body.reason = o.reason;
  if (o.rollout !== undefined) body.rollout = rolloutBody(o.rollout);
  return moved(await c.post(`/channels/${seg(o.to)}/promote`, withDryRun(body, o.dryRun)));
}

export async function rollback(c: Client, name: string, o: { reason: string; to?: string | undefined; dryRun?: boolean }): Promise<Result> {
  const body: Record<string, unknown> = { reason: o.reason };
  if (o.to !== undefined) body.to = o.to;
  return moved(await c.post(`/channels/${seg(name)}/rollback`, withDryRun(body, o.dryRun)));
}

function withDryRun(body: Record<string, unknown>, dryRun: boolean | undefined): Record<string, unknown> {
  return dryRun ? { ...body, dryRun: true } : body;
}

/** A promotion's or rollback's answer, its dry run's (the decision, the licensees, the diffs), or a started rollout. */
function moved(answer: unknown): Result {
  if ((answer as { dryRun?: unknown }).dryRun === true) {
    const lines = dryRunLines(answer as DryRunDto);
    return { json: answer, text: plain(lines), tty: coloured(lines) };
  }
  if (isRollout(answer)) return { json: answer, text: startedText(answer, Date.now()) };
  return { json: answer, text: promotionText(answer as PromotionDto) };
}

/** Marks or unmarks a release required: a stepping stone installations pass through (docs/api.md §8). */
export async function releaseRequired(c: Client, version: string, required: boolean, reason: string): Promise<Result> {
  const r = (await c.post(`/releases/${seg(version)}/required`, { required, reason })) as ReleaseDto & { changed: boolean };
  const what = r.required ? `release ${r.version} is required: installations below it pass through it first` : `release ${r.version} is not required`;
  return { json: r, text: `${r.changed ? what : `${what} already; nothing changed`}\n` };
}

export async function yank(c: Client, version: string, reason: string, rollback = false): Promise<Result> {
  const r = (await c.post(`/releases/${seg(version)}/yank`, rollback ? { reason, rollback: true } : { reason })) as YankDto;
  let text = `yanked release ${r.version}: ${dash(r.yankReason)}\n`;
  for (const a of r.abortedRollouts) text += `aborted rollout ${a.rolloutId} of ${r.version} on channel ${a.channel}: its licensees are back on the channel's release\n`;
  for (const m of r.rolledBack) text += `${m.message} (was ${releaseCell(m.from)})\n`;
  if (r.serving.length > 0) {
    text += `still serving ${r.version}: ${r.serving.join(", ")}\n`;
    text += `next: roll ${r.serving.length === 1 ? "it" : "each"} back (${r.serving.map((ch) => `chartroom rollback ${ch} --reason …`).join("; ")}), or yank with --rollback next time\n`;
  } else if (r.rolledBack.length === 0) {
    text += `no channel serves ${r.version}\n`;
  }
  return { json: r, text };
}

/**
 * `chartroom apply DIR` over HTTP: the files are read and checked here (the
 * same reader and schemas as the server's), sent as JSON, and applied by
 * the server in one transaction as the token's sub.
 */
export async function apply(c: Client, dir: string, dryRun: boolean, where: string): Promise<AppliedPlan> {
  // A file that cannot be read or fails its schema is refused here, naming it, as a local apply would.
  const d = readDeclarations(dir);
  const body = {
    channels: d.channels.map((ch) => ({ ...ch.input, ...(ch.release !== undefined ? { release: ch.release } : {}), ...(ch.rollout !== undefined ? { rollout: ch.rollout } : {}) })),
    releases: d.releases.map((r) => r.input),
    ...(dryRun ? { dryRun: true } : {}),
  };
  const r = (await c.post("/apply", body)) as ApplyDto;
  return { ...r, dir, mode: "http", where };
}

export async function history(c: Client, name: string, q: { limit?: number | undefined; cursor?: string | undefined }): Promise<Result> {
  const data = (await c.get(`/channels/${seg(name)}/history`, q)) as HistoryPageDto;
  const note = nextPage(data, `chartroom history ${name}${q.limit ? ` --limit ${q.limit}` : ""}`);
  return { json: data, text: historyTable(data.items), ...(note ? { note } : {}) };
}

/** What a licensee's poll gets now, and why (GET /resolve). */
export async function resolve(c: Client, sub: string, channel: string | undefined): Promise<Result> {
  const r = (await c.get("/resolve", { sub, channel })) as ResolveDto;
  const text =
    fields([
      ["sub", r.sub],
      ["channel", r.channel],
      ["release", `${r.release.version} (id ${r.release.id})`],
      ["etag", r.etag],
    ]) +
    (r.path ? fields([["path", `${r.path.text} (${r.path.state})`]]) : "") +
    "reasons:\n" +
    table(["  RULE", "DETAIL"], r.reasons.map((x) => [`  ${x.rule}`, x.detail]));
  return { json: r, text };
}
