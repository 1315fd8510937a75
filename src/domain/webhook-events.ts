// The events Chartroom notifies webhooks of (docs/api.md §10), their
// subjects, and the bodies a webhook receives: a CloudEvents 1.0 JSON event
// or a Slack-compatible {text}. Pure: the outbox writes events
// (src/repositories/outbox-repo.ts), the dispatcher renders and signs them
// (src/services/webhook-dispatcher.ts).
import { createHmac } from "node:crypto";

export const WEBHOOK_EVENTS = [
  "release.created",
  "release.yanked",
  "channel.promoted",
  "channel.rolled-back",
  "rollout.started",
  "rollout.step",
  "rollout.halted",
  "rollout.completed",
  "rollout.aborted",
  "license.revoked",
  "freeze.changed",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export const WEBHOOK_FORMATS = ["cloudevents", "slack"] as const;
export type WebhookFormat = (typeof WEBHOOK_FORMATS)[number];

/**
 * An event's subject: what it is about. Events of one subject reach a
 * webhook in the order they were written (a channel's promotions and
 * rollout steps: "in order per channel", docs/api.md §10).
 */
export const subjectOf = {
  channel: (name: string) => `channels/${name}`,
  release: (version: string) => `releases/${version}`,
  license: (jti: string) => `licenses/${jti}`,
  freeze: () => "freeze",
};

/** The CloudEvents `type` of an event. */
export function cloudEventType(type: string): string {
  return `io.chartroom.${type}`;
}

/** An event as the outbox stored it: `data` is its JSON text. */
export interface StoredEvent {
  id: string;
  type: string;
  subject: string;
  data: string;
  time: Date;
}

/**
 * The exact body bytes of an event for a webhook of `format`. The same
 * stored event always renders the same bytes, so a retry carries the same
 * id, time and signature.
 */
export function renderBody(e: StoredEvent, format: WebhookFormat, source: string): string {
  if (format === "slack") return JSON.stringify({ text: slackText(e) });
  // Written as text, not re-serialized: `data` keeps the bytes the outbox stored.
  const head = JSON.stringify({
    specversion: "1.0",
    id: e.id,
    source,
    type: cloudEventType(e.type),
    time: e.time.toISOString(),
    subject: e.subject,
    datacontenttype: "application/json",
  });
  return `${head.slice(0, -1)},"data":${e.data}}`;
}

/** `sha256=<hex HMAC-SHA256 of the body with the secret>`: the X-Chartroom-Signature header. */
export function signature(body: string, secret: string): string {
  return `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`;
}

function str(v: unknown): string {
  return typeof v === "string" ? v : v === null || v === undefined ? "none" : JSON.stringify(v);
}

/** One line for a chat channel. */
export function slackText(e: Pick<StoredEvent, "type" | "subject" | "data">): string {
  let d: Record<string, unknown> = {};
  try {
    d = JSON.parse(e.data) as Record<string, unknown>;
  } catch {
    // An unreadable payload still gets its type and subject.
  }
  const rollout = (d.rollout ?? {}) as Record<string, unknown>;
  const why = d.reason ? `: ${str(d.reason)}` : "";
  const by = d.by ? ` (by ${str(d.by)})` : "";
  switch (e.type) {
    case "release.created":
      return `Chartroom: release ${str((d.release as { version?: string })?.version)} created${by}`;
    case "release.yanked":
      return `Chartroom: release ${str((d.release as { version?: string })?.version)} yanked${by}${why}`;
    case "channel.promoted":
      return `Chartroom: channel ${str(d.channel)} promoted from ${str(d.from)} to ${str(d.to)}${by}${why}`;
    case "channel.rolled-back":
      return `Chartroom: channel ${str(d.channel)} rolled back from ${str(d.from)} to ${str(d.to)}${by}${why}`;
    case "rollout.started":
    case "rollout.step":
    case "rollout.halted":
    case "rollout.completed":
    case "rollout.aborted": {
      const at = `step ${str(rollout.step)} of ${str(rollout.steps)} (${str(rollout.percent)} %)`;
      const what = { "rollout.started": `started at ${at}`, "rollout.step": `moved to ${at}`, "rollout.halted": `HALTED at ${at}`, "rollout.completed": "completed", "rollout.aborted": `aborted at ${at}` }[e.type];
      return `Chartroom: rollout of ${str(rollout.release)} to channel ${str(d.channel)} ${what}${by}${why}`;
    }
    case "license.revoked":
      return `Chartroom: license ${str(d.jti)}${d.sub ? ` of ${str(d.sub)}` : ""} revoked${by}${why}`;
    case "freeze.changed":
      return d.frozen ? `Chartroom: promotions FROZEN${by}${why}${d.until ? ` until ${str(d.until)}` : ""}` : `Chartroom: freeze lifted, promotions work again${by}${why}`;
    default:
      return `Chartroom: ${e.type} ${e.subject}`;
  }
}
