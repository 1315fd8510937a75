// `chartroom webhooks add|list|rm|deliveries`: notifications over the admin
// API (docs/api.md §10). The secret is sent once and never printed; it can
// come from a file or the environment, so it need not be on argv (which
// other users of the machine can read in ps).
import { UsageError } from "./args.js";
import { seg, type Client } from "./client.js";
import { dash, fields, table, when } from "./format.js";
import { readTextFile, type Result } from "./remote.js";
// The answers' types are the routes' zod schemas (type-only: no zod at run time).
import type { DeliveryPageDto, WebhookDto } from "../routes/admin/dto/webhooks.js";

export interface AddOptions {
  url: string;
  secret: string;
  events: string[];
  format?: string | undefined;
}

export interface SecretSources {
  secret?: string | undefined;
  secretFile?: string | undefined;
  /** CHARTROOM_WEBHOOK_SECRET. */
  env?: string | undefined;
}

/**
 * The secret: --secret S, or --secret-file FILE (its text without the
 * line break that ends it; - for stdin), else CHARTROOM_WEBHOOK_SECRET.
 */
export async function readSecret(s: SecretSources, stdin: () => Promise<string>): Promise<string> {
  if (s.secret !== undefined && s.secretFile !== undefined) throw new UsageError("--secret and --secret-file: give one of them");
  if (s.secret !== undefined) return s.secret;
  if (s.secretFile !== undefined) return (s.secretFile === "-" ? await stdin() : readTextFile(s.secretFile)).replace(/\r?\n$/, "");
  if (s.env !== undefined && s.env !== "") return s.env;
  throw new UsageError("--secret S, --secret-file FILE or CHARTROOM_WEBHOOK_SECRET is required");
}

export async function add(c: Client, o: AddOptions): Promise<Result> {
  if (o.secret.length < 16 || o.secret.length > 256) throw new UsageError("the secret must be 16 to 256 characters (the receiver checks X-Chartroom-Signature with it)");
  const body: Record<string, unknown> = { url: o.url, secret: o.secret };
  if (o.events.length > 0) body.events = o.events;
  if (o.format !== undefined) body.format = o.format;
  const w = (await c.post("/webhooks", body)) as WebhookDto;
  return {
    json: w,
    text: `webhook ${w.id} created: ${w.url}\n${fields([["events", w.events.join(", ")], ["format", w.format]])}`,
  };
}

export async function list(c: Client): Promise<Result> {
  const data = (await c.get("/webhooks")) as { items: WebhookDto[] };
  const text = data.items.length === 0 ? "no webhooks\n" : table(["ID", "URL", "FORMAT", "EVENTS", "CREATED"], data.items.map((w) => [w.id, w.url, w.format, w.events.length === 11 ? "all" : w.events.join(","), when(w.createdAt)]));
  return { json: data, text };
}

export async function remove(c: Client, id: string): Promise<Result> {
  await c.del(`/webhooks/${seg(id)}`);
  return { json: { id, removed: true }, text: `webhook ${id} removed; its pending deliveries will not be sent\n` };
}

export async function deliveries(c: Client, id: string, page: { limit?: number | undefined; cursor?: string | undefined }): Promise<Result> {
  const data = (await c.get(`/webhooks/${seg(id)}/deliveries`, page)) as DeliveryPageDto;
  const rows = data.items.map((d) => [String(d.id), d.type, d.subject, d.state, String(d.attempts), d.lastStatus !== null ? `HTTP ${d.lastStatus}` : dash(d.lastError), d.state === "pending" ? when(d.nextAttemptAt) : d.state === "delivered" ? when(d.deliveredAt) : "-"]);
  let text = data.items.length === 0 ? "no deliveries\n" : table(["ID", "EVENT", "SUBJECT", "STATE", "ATTEMPTS", "LAST", "NEXT/DELIVERED"], rows);
  if (data.nextCursor) text += `more: --cursor ${data.nextCursor}\n`;
  return { json: data, text };
}
