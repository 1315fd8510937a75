// The admin API's answers, as far as the console reads them (docs/api.md
// §3, §7; the server's schemas are src/routes/admin/dto/).
export interface ReleaseRef {
  id: string;
  version: string;
  yanked: boolean;
}
export interface RolloutSummary {
  id: string;
  release: { id: string; version: string };
  state: string;
  step: number;
  steps: number;
  percent: number;
  nextStepAt: string | null;
}
export interface Channel {
  name: string;
  description: string;
  release: ReleaseRef | null;
  rollout: RolloutSummary | null;
  /** The promotion policy (docs/api.md §3); {} when the channel has none. */
  policy?: { upstream?: string; minSoak?: string };
}
export interface HistoryEvent {
  id: number;
  action: string;
  fromVersion: string | null;
  toVersion: string | null;
  actor: string;
  reason: string | null;
  createdAt: string;
}
export interface ChannelDetail extends Channel {
  history: HistoryEvent[];
}
export interface Rollout {
  id: string;
  release: { id: string; version: string };
  previous: { id: string; version: string } | null;
  state: string;
  step: number;
  percent: number;
  steps: { percent: number; bake: string; gates?: unknown[] }[];
  include: string[];
  exclude: string[];
  reason: string | null;
  startedBy: string;
  startedAt: string;
  stepStartedAt: string;
  nextStepAt: string | null;
  endedAt: string | null;
  endedBy: string | null;
  endReason: string | null;
  counts: { licensees: number; inCohort: number; servedTarget: number; healthy: number; failed: number };
  gates: { kind: string; state: string; detail: string; evaluatedAt?: string | null }[];
}
export interface Freeze {
  frozen: boolean;
  reason: string | null;
  until: string | null;
  since: string | null;
  by: string | null;
}
export interface Release {
  id: string;
  version: string;
  chart: Record<string, unknown>;
  images: Record<string, { repository: string; tag?: string; digest?: string }>;
  values: Record<string, unknown>;
  notes: string;
  createdBy: string;
  createdAt: string;
  yanked: boolean;
  yankedAt: string | null;
  yankedBy: string | null;
  yankReason: string | null;
  /** Upgrade paths (docs/api.md §8): absent on servers before them. */
  required?: boolean;
  requiredReason?: string | null;
  /** A semver range of installed versions it installs over directly, or null. */
  upgradeFrom?: string | null;
}
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}
export interface Resolved {
  sub: string;
  channel: string;
  release: { id: string; version: string };
  etag: string;
  reasons: { rule: string; detail: string }[];
  /** Present when an upgrade path applies (docs/api.md §8). */
  path?: { state: string; text: string; hops: { version: string; why: string; requiredReason: string | null; passed: boolean }[] };
}
export interface FleetEntry {
  sub: string;
  channel: string;
  releaseVersion: string | null;
  jti: string | null;
  userAgent: string | null;
  lastSeenAt: string;
  pollCount: number;
  licenseExpired: boolean;
  licenseRevoked: boolean;
  anonymous: boolean;
  report: { state: string; releaseVersion: string | null; message: string | null; reportedAt: string } | null;
  /** Its upgrade path where one applies on its channel (docs/api.md §8). */
  path?: { state: string; text: string } | null;
}
export interface Fleet {
  items: FleetEntry[];
  distribution: Record<string, Record<string, number>>;
  /** With ?limit= only. */
  nextCursor?: string | null;
}
export interface AuditEntry {
  id: number;
  actor: string;
  action: string;
  targetType: string;
  target: string;
  requestId: string | null;
  createdAt: string;
}
export interface Report {
  state: string;
  releaseId: string;
  releaseVersion: string | null;
  channel: string;
  message: string | null;
  reportedAt: string;
}
export interface License {
  jti: string;
  sub: string | null;
  channel: string | null;
  issuedAt: string | null;
  issuedBy: string | null;
  expiresAt: string | null;
  notes: string;
  expired: boolean;
  revoked: boolean;
  revokedAt: string | null;
  revokedBy: string | null;
  revokeReason: string | null;
}
