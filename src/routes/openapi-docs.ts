// The reader's half of the OpenAPI document: for every operation a
// description, an example request (when it has a body), an example answer,
// and the error codes it can answer per status. The routes declare the
// schemas (src/routes/**); documentOperations merges this table into the
// generated document (@fastify/swagger's transformObject, src/app.ts), so
// /docs shows these examples instead of values made up from the schemas.
// test/routes/openapi.test.ts fails when an operation lacks any of it.
import { ERROR_DOCS, reasonPhrase } from "../error-docs.js";

export interface OperationDoc {
  /** Put before the route's own description, if it has one. */
  description: string;
  /** An example body. */
  request?: unknown;
  /** An example of the operation's 2xx answer (null: it answers no body). */
  response: unknown;
  /** Examples of the other 2xx answers, by status. */
  other?: Record<number, unknown>;
  /**
   * Codes per status beyond the ones every operation of its kind can answer
   * (commonErrors); an empty list: a status the route declares but never answers.
   */
  errors: Record<number, string[]>;
}

/** Codes an operation can answer because of what it is: admin or operator, with a body or path parameters. */
export function commonErrors(path: string, hasBody: boolean, hasParams: boolean): Record<number, string[]> {
  const e: Record<number, string[]> = {};
  const add = (status: number, ...codes: string[]) => (e[status] = [...(e[status] ?? []), ...codes]);
  if (path.startsWith("/api/v1/admin/")) {
    add(401, "ADMIN_UNAUTHORIZED");
    add(403, "ROLE_REQUIRED");
    add(429, "RATE_LIMITED");
    add(503, "DATABASE_UNAVAILABLE");
  } else if (path.startsWith("/api/v1/operator/")) {
    add(401, "LICENSE_MISSING", "LICENSE_MALFORMED", "LICENSE_TOO_LARGE", "LICENSE_ALG_NOT_ALLOWED", "LICENSE_UNKNOWN_KID", "LICENSE_BAD_SIGNATURE",
      "LICENSE_EXPIRED", "LICENSE_NOT_YET_VALID", "LICENSE_WRONG_ISSUER", "LICENSE_WRONG_AUDIENCE", "LICENSE_CLAIMS_INVALID");
    add(403, "LICENSE_REVOKED");
    add(429, "RATE_LIMITED");
    add(503, "DATABASE_UNAVAILABLE", "NOT_READY");
  } else return e;
  if (hasBody) {
    add(400, "VALIDATION_FAILED", "MALFORMED_BODY");
    add(413, "BODY_TOO_LARGE");
    add(415, "UNSUPPORTED_MEDIA_TYPE");
  } else if (hasParams) add(400, "VALIDATION_FAILED");
  return e;
}

export const OPERATIONS: Record<string, OperationDoc> = {
  "GET /api/v1/operator/channel": {
    description: "The operator's poll (W&B operator `--deployer-channel-url`): the spec of the channel the license's `channel` claim names, per-license values merged last. Send the last `ETag` as `If-None-Match` to get a 304 while nothing changed. The 2xx answer is the spec (chart, metadata, values) in the operator's wire format.",
    response: {"chart": {"name": "operator-wandb", "url": "https://charts.wandb.ai", "version": "0.17.4"}, "metadata": {"channel": "stable", "chartVersion": "0.17.4", "releaseId": "c886c846-4ff6-4928-8ee8-7214079bba5b", "releasedAt": "2026-12-01T18:40:48.248Z", "server": "chartroom", "version": "0.58.1"}, "values": {"app": {"image": {"repository": "wandb/local", "tag": "0.58.1"}, "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}, "console": {"image": {"repository": "wandb/console", "tag": "2.12.0"}}, "global": {"extraEnv": {"ENABLE_REGISTRY_UI": "true"}, "host": "https://wandb.example.com"}, "ingress": {"annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64m"}, "class": "nginx"}, "mysql": {"install": false}, "weave": {"image": {"repository": "wandb/weave-python", "tag": "0.9.1"}, "install": true}}},
    errors: { 404: ["CHANNEL_NOT_FOUND", "CHANNEL_HAS_NO_RELEASE"] },
  },
  "GET /api/v1/operator/channel/release/{versionId}": {
    description: "The release a license pins (the operator's `_releaseId`), by id or version, as a spec like the channel route's; the license's channel must have served it.",
    response: {"chart": {"name": "operator-wandb", "url": "https://charts.wandb.ai", "version": "0.17.4"}, "metadata": {"channel": "stable", "chartVersion": "0.17.4", "pinned": "true", "releaseId": "c886c846-4ff6-4928-8ee8-7214079bba5b", "releasedAt": "2026-12-01T18:40:48.248Z", "server": "chartroom", "version": "0.58.1"}, "values": {"app": {"image": {"repository": "wandb/local", "tag": "0.58.1"}, "resources": {"requests": {"cpu": "1", "memory": "2Gi"}}}, "console": {"image": {"repository": "wandb/console", "tag": "2.12.0"}}, "global": {"extraEnv": {"ENABLE_REGISTRY_UI": "true"}, "host": "https://wandb.example.com"}, "ingress": {"annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64m"}, "class": "nginx"}, "mysql": {"install": false}, "weave": {"image": {"repository": "wandb/weave-python", "tag": "0.9.1"}, "install": true}}},
    errors: { 400: ["VALIDATION_FAILED"], 403: ["RELEASE_NOT_ENTITLED", "RELEASE_YANKED", "UPGRADE_PATH_REQUIRED"], 404: ["CHANNEL_NOT_FOUND", "RELEASE_NOT_FOUND"] },
  },
  "POST /api/v1/operator/report": {
    description: "What an installation reports about a release (the reporter in deploy/reporter/ sends one every 5 minutes). Counts against the licensee's rate limit like a poll. Chartroom keeps the latest state per release and the last 50 reports; rollouts' `reports` gates read them.",
    request: {"release": "0.58.1", "state": "healthy", "message": "all pods ready"},
    response: {"accepted": true, "release": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1"}, "state": "healthy", "reportedAt": "2026-12-01T18:40:50.373Z"},
    errors: { 404: ["RELEASE_NOT_FOUND"] },
  },
  "GET /api/v1/admin/channels": {
    description: "Role: viewer. CLI: `chartroom channels`. Every channel with its release (id, version, yanked), its active rollout if any, and its default values.",
    response: {"items": [{"name": "beta", "description": "Release candidates for customers who opted in to early access.", "defaultValues": {"global": {"host": "https://wandb.example.com"}, "mysql": {"install": false}, "ingress": {"class": "nginx"}}, "policy": {"upstream": "unstable"}, "release": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "rollout": null, "rowVersion": 1, "createdAt": "2026-12-01T18:40:48.545Z", "updatedAt": "2026-12-01T18:40:48.682Z"}]},
    errors: {},
  },
  "POST /api/v1/admin/channels": {
    description: "Role: admin. A channel starts with no release: promote one to it. `defaultValues` are the Helm values every licensee of the channel starts from (docs/guide/release-file.md, the merge order).",
    request: {"name": "canary", "description": "Early adopters", "defaultValues": {"reconcileFrequency": "15m"}},
    response: {"name": "canary", "description": "Early adopters", "defaultValues": {"reconcileFrequency": "15m"}, "policy": {}, "release": null, "rollout": null, "rowVersion": 0, "createdAt": "2026-12-01T18:40:50.568Z", "updatedAt": "2026-12-01T18:40:50.568Z"},
    errors: { 409: ["CHANNEL_EXISTS"] },
  },
  "GET /api/v1/admin/channels/{name}": {
    description: "Role: viewer. The channel, its release, its active rollout and its last 10 history events.",
    response: {"name": "stable", "description": "Production releases, promoted from beta after soak.", "defaultValues": {"global": {"host": "https://wandb.example.com", "extraEnv": {"ENABLE_REGISTRY_UI": "true"}}, "mysql": {"install": false}, "ingress": {"class": "nginx", "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "64m"}}}, "policy": {"upstream": "beta", "minSoak": "3d", "downgradeRole": "admin"}, "release": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "yanked": false}, "rollout": null, "rowVersion": 1, "createdAt": "2026-12-01T18:40:48.800Z", "updatedAt": "2026-12-01T18:40:48.943Z", "history": [{"id": 2, "channel": "stable", "action": "declare", "fromVersion": null, "toVersion": "0.58.1", "actor": "test:seed", "reason": "declared in stable.yaml", "requestId": null, "createdAt": "2026-12-01T18:40:48.977Z"}]},
    errors: { 404: ["CHANNEL_NOT_FOUND"] },
  },
  "PATCH /api/v1/admin/channels/{name}": {
    description: "Role: admin. Changes `description` and/or `defaultValues` (replaced as a whole). Every licensee of the channel gets a new spec and ETag at its next poll.",
    request: {"description": "Early adopters, polled every 15 minutes"},
    response: {"name": "canary", "description": "Early adopters, polled every 15 minutes", "defaultValues": {"reconcileFrequency": "15m"}, "policy": {}, "release": null, "rollout": null, "rowVersion": 1, "createdAt": "2026-12-01T18:40:50.568Z", "updatedAt": "2026-12-01T18:40:50.801Z"},
    errors: { 404: ["CHANNEL_NOT_FOUND"], 409: ["WRITE_CONFLICT"] },
  },
  "POST /api/v1/admin/channels/{name}/promote": {
    description: "Role: release-engineer. CLI: `chartroom promote VERSION --to CHANNEL --from UPSTREAM --expect CURRENT`. Promote in order, unstable \u2192 beta \u2192 stable, with `from`, and pass `expectedCurrent` to refuse the move if someone else moved the channel meanwhile.",
    request: {"release": "0.59.2", "from": "beta", "expectedCurrent": "0.58.1", "reason": "soaked a week on beta"},
    response: {"changed": true, "message": "channel stable promoted to 0.59.2", "action": "promote", "channel": "stable", "from": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "yanked": false}, "to": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "event": {"id": 4, "channel": "stable", "action": "promote", "fromVersion": "0.58.1", "toVersion": "0.59.2", "actor": "admin@example.com", "reason": "soaked a week on beta", "requestId": "105041f9-9", "createdAt": "2026-12-01T18:40:50.935Z"}},
    other: { 202: {"id": "96f60a05-2e4a-4c27-bd78-db284cbb2b7c", "channel": "beta", "release": {"id": "4551f7db-1b18-4797-b25d-6883e8debe07", "version": "0.60.0", "yanked": false}, "previous": {"id": "c61d4655-aeb7-4717-9d7d-b54b62fac9d9", "version": "0.59.2", "yanked": false}, "state": "progressing", "step": 1, "percent": 10, "steps": [{"percent": 10, "bake": "1h"}, {"percent": 100, "bake": "0s"}], "include": ["acme-canary"], "exclude": [], "salt": "96f60a05-2e4a-4c27-bd78-db284cbb2b7c", "reason": "staged", "startedBy": "admin@example.com", "startedAt": "2026-12-01T18:45:32.258Z", "stepStartedAt": "2026-12-01T18:45:32.258Z", "nextStepAt": "2026-12-01T19:45:32.258Z", "endedAt": null, "endedBy": null, "endReason": null, "counts": {"licensees": 0, "inCohort": 0, "servedTarget": 0, "healthy": 0, "failed": 0}, "onFailure": "halt", "gates": []} },
    errors: { 404: ["CHANNEL_NOT_FOUND", "RELEASE_NOT_FOUND"], 409: ["PROMOTION_CONFLICT", "PROMOTION_REFUSED", "POLICY_REFUSED", "DOWNGRADE_REFUSED", "RELEASE_YANKED", "ROLLOUT_IN_PROGRESS", "WRITE_CONFLICT"], 423: ["FROZEN"] },
  },
  "POST /api/v1/admin/channels/{name}/rollback": {
    description: "Role: release-engineer. CLI: `chartroom rollback CHANNEL --reason \u2026`. Without `to`, back to the release the channel held before its current one; with `to`, to an earlier release the channel held.",
    request: {"reason": "bad migration"},
    response: {"changed": true, "message": "channel stable rolled back to 0.58.1", "action": "rollback", "channel": "stable", "from": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "to": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "yanked": false}, "event": {"id": 5, "channel": "stable", "action": "rollback", "fromVersion": "0.59.2", "toVersion": "0.58.1", "actor": "admin@example.com", "reason": "bad migration", "requestId": "105041f9-a", "createdAt": "2026-12-01T18:40:50.996Z"}},
    errors: { 404: ["CHANNEL_NOT_FOUND", "RELEASE_NOT_FOUND"], 409: ["ROLLBACK_REFUSED", "PROMOTION_REFUSED", "POLICY_REFUSED", "WRITE_CONFLICT"] },
  },
  "GET /api/v1/admin/channels/{name}/history": {
    description: "Role: viewer. CLI: `chartroom history CHANNEL`. Promotions, rollbacks and rollout starts and ends, newest first; page with `limit` and `cursor` (the answer's `nextCursor`).",
    response: {"items": [{"id": 5, "channel": "stable", "action": "rollback", "fromVersion": "0.59.2", "toVersion": "0.58.1", "actor": "admin@example.com", "reason": "bad migration", "requestId": "105041f9-a", "createdAt": "2026-12-01T18:40:50.996Z"}, {"id": 4, "channel": "stable", "action": "promote", "fromVersion": "0.58.1", "toVersion": "0.59.2", "actor": "admin@example.com", "reason": "soaked a week on beta", "requestId": "105041f9-9", "createdAt": "2026-12-01T18:40:50.935Z"}], "nextCursor": "NA"},
    errors: { 404: ["CHANNEL_NOT_FOUND"] },
  },
  "POST /api/v1/admin/releases": {
    description: "Role: release-engineer. CLI: `chartroom release create release.yaml`. A release is immutable: its version, chart, images and values never change (publish a new version instead). `images.app` is served as `values.app.image` (docs/guide/release-file.md).",
    request: {"version": "0.61.0", "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.18.2"}, "images": {"app": {"repository": "wandb/local", "tag": "0.61.0"}}, "values": {"app": {"resources": {"requests": {"cpu": "1"}}}}, "notes": "W&B Server 0.61.0"},
    response: {"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.18.2"}, "images": {"app": {"repository": "wandb/local", "tag": "0.61.0"}}, "values": {"app": {"resources": {"requests": {"cpu": "1"}}}}, "notes": "W&B Server 0.61.0", "createdBy": "admin@example.com", "createdAt": "2026-12-01T18:40:51.080Z", "yanked": false, "yankedAt": null, "yankedBy": null, "yankReason": null, "required": false, "requiredReason": null, "requiredBy": null, "requiredAt": null, "upgradeFrom": ">=0.59.0", "warnings": []},
    errors: { 409: ["RELEASE_EXISTS"] },
  },
  "GET /api/v1/admin/releases": {
    description: "Role: viewer. CLI: `chartroom releases`. Newest first; page with `limit` and `cursor`.",
    response: {"items": [{"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.18.2"}, "images": {"app": {"repository": "wandb/local", "tag": "0.61.0"}}, "values": {"app": {"resources": {"requests": {"cpu": "1"}}}}, "notes": "W&B Server 0.61.0", "createdBy": "admin@example.com", "createdAt": "2026-12-01T18:40:51.080Z", "yanked": false, "yankedAt": null, "yankedBy": null, "yankReason": null, "required": false, "requiredReason": null, "requiredBy": null, "requiredAt": null, "upgradeFrom": ">=0.59.0"}], "nextCursor": "MjAyNi0xMi0wMVQxODo0MDo1MS4wODBafGU2N2IxMzlkLTNmZGYtNDE5NC1iM2NlLWUwNDhhOTc2ZjJjNw"},
    errors: {},
  },
  "GET /api/v1/admin/releases/{idOrVersion}": {
    description: "Role: viewer. One release by its id (UUID) or version.",
    response: {"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.18.2"}, "images": {"app": {"repository": "wandb/local", "tag": "0.61.0"}}, "values": {"app": {"resources": {"requests": {"cpu": "1"}}}}, "notes": "W&B Server 0.61.0", "createdBy": "admin@example.com", "createdAt": "2026-12-01T18:40:51.080Z", "yanked": false, "yankedAt": null, "yankedBy": null, "yankReason": null, "required": false, "requiredReason": null, "requiredBy": null, "requiredAt": null, "upgradeFrom": ">=0.59.0"},
    errors: { 404: ["RELEASE_NOT_FOUND"] },
  },
  "POST /api/v1/admin/releases/{idOrVersion}/yank": {
    description: "Role: release-engineer. CLI: `chartroom yank VERSION --reason \u2026`. A yanked release is never promoted or pinned again; channels that have it keep serving it until promoted or rolled back (docs/api.md, decision 8), listed in `serving`, or with `rollback: true` (`--rollback`) are rolled back in the same transaction, listed in `rolledBack`. A yank aborts every active rollout of that release (`abortedRollouts`).",
    request: {"reason": "data loss bug"},
    response: {"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.18.2"}, "images": {"app": {"repository": "wandb/local", "tag": "0.61.0"}}, "values": {"app": {"resources": {"requests": {"cpu": "1"}}}}, "notes": "W&B Server 0.61.0", "createdBy": "admin@example.com", "createdAt": "2026-12-01T18:40:51.080Z", "yanked": true, "yankedAt": "2026-12-01T18:40:51.817Z", "yankedBy": "admin@example.com", "yankReason": "data loss bug", "required": false, "requiredReason": null, "requiredBy": null, "requiredAt": null, "upgradeFrom": ">=0.59.0", "serving": [], "rolledBack": [], "abortedRollouts": [{"channel": "unstable", "rolloutId": "3a6f0f4e-2f0b-4c39-9d3e-5b8f1c7a2e91"}]},
    errors: { 404: ["RELEASE_NOT_FOUND"], 409: ["RELEASE_YANKED", "ROLLBACK_REFUSED", "PROMOTION_REFUSED", "POLICY_REFUSED", "WRITE_CONFLICT"] },
  },
  "POST /api/v1/admin/releases/{idOrVersion}/required": {
    description: "Role: release-engineer. CLI: `chartroom release required VERSION --reason TEXT [--off]`. Marks a release required (`required: true`) or not: installations below a channel's release are served the lowest required release on the way first (docs/api.md \u00a78, upgrade paths). The answer is the release and `changed` (false: it was already so, nothing written).",
    request: {"required": true, "reason": "schema migration"},
    response: {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.18.0"}, "images": {"app": {"repository": "wandb/local", "tag": "0.59.2"}}, "values": {}, "notes": "W&B Server 0.59.2: migrates the runs table", "createdBy": "admin@example.com", "createdAt": "2026-11-20T10:02:41.310Z", "yanked": false, "yankedAt": null, "yankedBy": null, "yankReason": null, "required": true, "requiredReason": "schema migration", "requiredBy": "admin@example.com", "requiredAt": "2026-12-01T18:40:51.902Z", "upgradeFrom": null, "changed": true},
    errors: { 404: ["RELEASE_NOT_FOUND"] },
  },
  "GET /api/v1/admin/audit": {
    description: "Role: viewer. CLI: `chartroom audit`. Every admin mutation with its actor, target, before and after and request id, newest first; filter by `actor`, `action`, `targetType`, `target`, `since`, `until`.",
    response: {"items": [{"id": 21, "actor": "admin@example.com", "action": "release.yank", "targetType": "release", "target": "0.61.0", "before": {"yanked": false}, "after": {"yanked": true, "reason": "data loss bug"}, "requestId": "105041f9-n", "createdAt": "2026-12-01T18:40:51.833Z"}], "nextCursor": "MjE"},
    errors: {},
  },
  "POST /api/v1/admin/licenses": {
    description: "Role: admin. CLI: `chartroom license issue --sub acme --channel stable`. Signs a license with `LICENSE_SIGNING_KEY_FILE`; the token is in this answer only (never stored). Its `jti` is what a revocation names.",
    request: {"sub": "acme", "channel": "stable", "expiresAt": "2027-12-01T00:00:00Z", "notes": "contract 2026-118"},
    response: {"id": "e1cece49-9d49-4264-9a4f-a21048ab9fad", "jti": "e1cece49-9d49-4264-9a4f-a21048ab9fad", "sub": "acme", "channel": "stable", "issuedHere": true, "issuedAt": "2026-12-01T18:40:51.899Z", "issuedBy": "admin@example.com", "expiresAt": "2027-12-01T00:00:00.000Z", "notes": "contract 2026-118", "expired": false, "revoked": false, "revokedAt": null, "revokedBy": null, "revokeReason": null, "token": "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImRDMFNIbF9xekJjT0ZSRF9jNzF5UkQ2ZGt5bXlKT2Q2NVFtUlJqeWtqSXcifQ.eyJzdWIiOiJhY21lIiwiY2hhbm5lbCI6InN0YWJsZSIsImp0aSI6ImUxY2VjZTQ5LTlkNDktNDI2NC05YTRmLWEyMTA0OGFiOWZhZCIsImV4cCI6MTgyNzYxOTIwMCwiaWF0IjoxNzk2MTUwNDUxfQ.9umCDDcGM3qxBAfB6XSkgkhSqnlRcir9tKVcDNiWoUq6v5F9qJmLO2RAM4KR8Quq2UPQcXHKLJvNquCtAR9HvQ", "kid": "dC0SHl_qzBcOFRD_c71yRD6dkymyJOd65QmRRjykjIw"},
    errors: { 404: ["CHANNEL_NOT_FOUND"], 503: ["LICENSE_ISSUING_DISABLED"] },
  },
  "GET /api/v1/admin/licenses": {
    description: "Role: admin. CLI: `chartroom license list`. Licenses issued here and revocations (of any license, by jti), newest first; never their tokens.",
    response: {"items": [{"id": "e1cece49-9d49-4264-9a4f-a21048ab9fad", "jti": "e1cece49-9d49-4264-9a4f-a21048ab9fad", "sub": "acme", "channel": "stable", "issuedHere": true, "issuedAt": "2026-12-01T18:40:51.899Z", "issuedBy": "admin@example.com", "expiresAt": "2027-12-01T00:00:00.000Z", "notes": "contract 2026-118", "expired": false, "revoked": false, "revokedAt": null, "revokedBy": null, "revokeReason": null}]},
    errors: {},
  },
  "POST /api/v1/admin/licenses/{jti}/revoke": {
    description: "Role: admin. CLI: `chartroom license revoke JTI --reason \u2026`. Works for any license with a `jti`, issued here or by an external issuer; a license without `jti` cannot be revoked. Every replica refuses it (403 LICENSE_REVOKED) within seconds.",
    request: {"reason": "contract ended"},
    response: {"id": "5f0c3a8e-6d2b-4b1e-9a7c-2e4d8f1b0c93", "jti": "5f0c3a8e-6d2b-4b1e-9a7c-2e4d8f1b0c93", "sub": null, "channel": null, "issuedHere": false, "issuedAt": null, "issuedBy": null, "expiresAt": null, "notes": "", "expired": false, "revoked": true, "revokedAt": "2026-12-01T18:40:54.081Z", "revokedBy": "admin@example.com", "revokeReason": "contract ended"},
    errors: { 409: ["LICENSE_ALREADY_REVOKED"] },
  },
  "GET /api/v1/admin/licenses/{sub}/values": {
    description: "Role: admin. CLI: `chartroom license values show SUB`. The Helm values merged last into this licensee's spec.",
    response: {"sub": "acme", "values": {"global": {"extraEnv": {"GORILLA_DEBUG": "true"}}}},
    errors: { 404: ["NOT_FOUND"] },
  },
  "PUT /api/v1/admin/licenses/{sub}/values": {
    description: "Role: admin. CLI: `chartroom license values set SUB values.yaml`. Replaces the licensee's values override; merged last, over the channel's default values and the release's values; `null` removes a key of the layers below.",
    request: {"values": {"global": {"extraEnv": {"GORILLA_DEBUG": "true"}}}},
    response: {"sub": "acme", "values": {"global": {"extraEnv": {"GORILLA_DEBUG": "true"}}}},
    errors: {},
  },
  "DELETE /api/v1/admin/licenses/{sub}/values": {
    description: "Role: admin. CLI: `chartroom license values unset SUB`. The licensee gets its channel's spec again at its next poll.",
    response: null,
    errors: { 404: ["NOT_FOUND"] },
  },
  "GET /api/v1/admin/fleet": {
    description: "Role: viewer. CLI: `chartroom fleet`. Per licensee: channel, release last served, first and last seen, polls, user agent, license state, newest health report; `distribution` counts licensees by release per channel. Without `limit` the whole fleet; with it one page by sub.",
    response: {"items": [{"sub": "acme", "channel": "stable", "releaseId": "c886c846-4ff6-4928-8ee8-7214079bba5b", "releaseVersion": "0.58.1", "jti": "5f0c3a8e-6d2b-4b1e-9a7c-2e4d8f1b0c93", "userAgent": "Go-http-client/1.1", "firstSeenAt": "2026-11-02T09:14:03.120Z", "lastSeenAt": "2026-12-01T18:02:11.480Z", "pollCount": 713, "licenseExpiresAt": "2027-12-01T00:00:00.000Z", "licenseExpired": false, "licenseRevoked": false, "anonymous": false, "report": {"state": "healthy", "releaseId": "c886c846-4ff6-4928-8ee8-7214079bba5b", "releaseVersion": "0.58.1", "message": "all pods ready", "reportedAt": "2026-12-01T18:05:40.002Z"}, "path": null}, {"sub": "globex", "channel": "beta", "releaseId": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "releaseVersion": "0.59.2", "jti": "0d7b2f61-7a4e-4c1f-8f0e-6b3c9a2d5e14", "userAgent": "Go-http-client/1.1", "firstSeenAt": "2026-10-14T07:30:55.901Z", "lastSeenAt": "2026-12-01T18:39:02.217Z", "pollCount": 4120, "licenseExpiresAt": "2027-06-30T00:00:00.000Z", "licenseExpired": false, "licenseRevoked": false, "anonymous": false, "report": {"state": "applying", "releaseId": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "releaseVersion": "0.59.2", "message": "migrating the database schema", "reportedAt": "2026-12-01T18:36:12.480Z"}, "path": {"state": "stepping-stone", "installed": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "source": "report"}, "serve": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2"}, "hops": [{"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "why": "required", "requiredReason": "schema migration", "passed": false}, {"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "why": "target", "requiredReason": null, "passed": false}], "blocked": false, "text": "installed 0.58.1 → 0.59.2 (required: \"schema migration\") → 0.61.0"}}], "distribution": {"stable": {"0.58.1": 41, "0.59.2": 3}, "beta": {"0.59.2": 7, "0.61.0": 2}}, "nextCursor": "Z2xvYmV4"},
    errors: {},
  },
  "GET /api/v1/admin/fleet/{sub}": {
    description: "Role: viewer. One licensee's fleet entry as in GET /fleet, with its upgrade path (`path`, null where none applies); here one on a stepping stone.",
    response: {"sub": "globex", "channel": "beta", "releaseId": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "releaseVersion": "0.59.2", "jti": "0d7b2f61-7a4e-4c1f-8f0e-6b3c9a2d5e14", "userAgent": "Go-http-client/1.1", "firstSeenAt": "2026-10-14T07:30:55.901Z", "lastSeenAt": "2026-12-01T18:39:02.217Z", "pollCount": 4120, "licenseExpiresAt": "2027-06-30T00:00:00.000Z", "licenseExpired": false, "licenseRevoked": false, "anonymous": false, "report": {"state": "applying", "releaseId": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "releaseVersion": "0.59.2", "message": "migrating the database schema", "reportedAt": "2026-12-01T18:36:12.480Z"}, "path": {"state": "stepping-stone", "installed": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "source": "report"}, "serve": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2"}, "hops": [{"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "why": "required", "requiredReason": "schema migration", "passed": false}, {"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "why": "target", "requiredReason": null, "passed": false}], "blocked": false, "text": "installed 0.58.1 → 0.59.2 (required: \"schema migration\") → 0.61.0"}},
    errors: { 404: ["FLEET_ENTRY_NOT_FOUND"] },
  },
  "GET /api/v1/admin/fleet/{sub}/reports": {
    description: "Role: viewer. The licensee's last health reports (at most 50), newest first, each with the channel of the license it was sent with; empty when it never reported.",
    response: {"items": [{"state": "applying", "releaseId": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "releaseVersion": "0.59.2", "channel": "beta", "message": "migrating the database schema", "reportedAt": "2026-12-01T18:36:12.480Z"}, {"state": "healthy", "releaseId": "c886c846-4ff6-4928-8ee8-7214079bba5b", "releaseVersion": "0.58.1", "channel": "beta", "message": "all pods ready", "reportedAt": "2026-12-01T18:31:10.118Z"}]},
    errors: {},
  },
  "GET /api/v1/admin/instances": {
    description: "Role: viewer. The old name of GET /api/v1/admin/fleet, answering the same; use /fleet.",
    response: {"items": [{"sub": "acme", "channel": "stable", "releaseId": "c886c846-4ff6-4928-8ee8-7214079bba5b", "releaseVersion": "0.58.1", "jti": "5f0c3a8e-6d2b-4b1e-9a7c-2e4d8f1b0c93", "userAgent": "Go-http-client/1.1", "firstSeenAt": "2026-11-02T09:14:03.120Z", "lastSeenAt": "2026-12-01T18:02:11.480Z", "pollCount": 713, "licenseExpiresAt": "2027-12-01T00:00:00.000Z", "licenseExpired": false, "licenseRevoked": false, "anonymous": false, "report": {"state": "healthy", "releaseId": "c886c846-4ff6-4928-8ee8-7214079bba5b", "releaseVersion": "0.58.1", "message": "all pods ready", "reportedAt": "2026-12-01T18:05:40.002Z"}, "path": null}, {"sub": "globex", "channel": "beta", "releaseId": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "releaseVersion": "0.59.2", "jti": "0d7b2f61-7a4e-4c1f-8f0e-6b3c9a2d5e14", "userAgent": "Go-http-client/1.1", "firstSeenAt": "2026-10-14T07:30:55.901Z", "lastSeenAt": "2026-12-01T18:39:02.217Z", "pollCount": 4120, "licenseExpiresAt": "2027-06-30T00:00:00.000Z", "licenseExpired": false, "licenseRevoked": false, "anonymous": false, "report": {"state": "applying", "releaseId": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "releaseVersion": "0.59.2", "message": "migrating the database schema", "reportedAt": "2026-12-01T18:36:12.480Z"}, "path": {"state": "stepping-stone", "installed": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "source": "report"}, "serve": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2"}, "hops": [{"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "why": "required", "requiredReason": "schema migration", "passed": false}, {"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "why": "target", "requiredReason": null, "passed": false}], "blocked": false, "text": "installed 0.58.1 → 0.59.2 (required: \"schema migration\") → 0.61.0"}}], "distribution": {"stable": {"0.58.1": 41, "0.59.2": 3}, "beta": {"0.59.2": 7, "0.61.0": 2}}, "nextCursor": "Z2xvYmV4"},
    errors: {},
  },
  "GET /api/v1/admin/resolve": {
    description: "Role: viewer. CLI: `chartroom resolve SUB --channel CHANNEL`. What that licensee's poll answers now and why, rule by rule; `path` when an upgrade path applies (docs/api.md \u00a78): here a licensee on 0.58.1 is served the required 0.59.2 before its channel's 0.61.0.",
    response: {"sub": "globex", "channel": "beta", "release": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2"}, "etag": "\"Qm9sZ0h6cVdKc1R3bHhZa2RpVmFnS0RmZ1lR\"", "reasons": [{"rule": "channel", "detail": "channel beta is at 0.61.0"}, {"rule": "stepping-stone", "detail": "installed 0.58.1 (report): stepping stone 0.59.2 on the way to 0.61.0: 0.59.2 is required (schema migration); waiting for a healthy report on 0.59.2, or 3h 12m more of the soak (path: installed 0.58.1 → 0.59.2 (required: \"schema migration\") → 0.61.0)"}], "path": {"state": "stepping-stone", "installed": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "source": "report"}, "serve": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2"}, "hops": [{"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "why": "required", "requiredReason": "schema migration", "passed": false}, {"id": "e67b139d-3fdf-4194-b3ce-e048a976f2c7", "version": "0.61.0", "why": "target", "requiredReason": null, "passed": false}], "blocked": false, "text": "installed 0.58.1 → 0.59.2 (required: \"schema migration\") → 0.61.0"}},
    errors: { 404: ["CHANNEL_NOT_FOUND", "CHANNEL_HAS_NO_RELEASE"] },
  },
  "GET /api/v1/admin/freeze": {
    description: "Role: viewer. CLI: `chartroom freeze status`.",
    response: {"frozen": true, "reason": "incident 4711: bad image", "until": "2026-12-01T22:00:00.000Z", "since": "2026-12-01T18:40:52.362Z", "by": "admin@example.com"},
    errors: {},
  },
  "PUT /api/v1/admin/freeze": {
    description: "Role: admin. CLI: `chartroom freeze on --reason \u2026 --until 2h`.",
    request: {"reason": "incident 4711: bad image", "until": "2026-12-01T22:00:00Z"},
    response: {"frozen": true, "reason": "incident 4711: bad image", "until": "2026-12-01T22:00:00.000Z", "since": "2026-12-01T18:40:52.362Z", "by": "admin@example.com"},
    errors: {},
  },
  "DELETE /api/v1/admin/freeze": {
    description: "Role: admin. CLI: `chartroom freeze off --reason \u2026`. 409 NOT_FROZEN when promotions are not frozen.",
    request: {"reason": "fixed in 0.61.1"},
    response: {"frozen": false, "reason": null, "until": null, "since": null, "by": null},
    errors: { 409: ["NOT_FROZEN"] },
  },
  "GET /api/v1/admin/channels/{name}/rollout": {
    description: "Role: viewer. CLI: `chartroom rollout status CHANNEL`. State, steps, cohort rules, counts over the channel's fleet (licensees, in the cohort, served the target, healthy, failed) and each gate's last evaluation.",
    response: {"id": "07171bff-130e-4ff6-b05a-b12b76f812a6", "channel": "beta", "release": {"id": "44dd1cd6-0b09-41a3-891c-f79a58893915", "version": "0.60.0", "yanked": false}, "previous": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "state": "progressing", "step": 1, "percent": 10, "steps": [{"percent": 10, "bake": "1h"}, {"percent": 100, "bake": "0s"}], "include": ["acme-canary"], "exclude": [], "salt": "07171bff-130e-4ff6-b05a-b12b76f812a6", "reason": "staged", "startedBy": "admin@example.com", "startedAt": "2026-12-01T18:40:51.211Z", "stepStartedAt": "2026-12-01T18:40:51.211Z", "nextStepAt": "2026-12-01T19:40:51.211Z", "endedAt": null, "endedBy": null, "endReason": null, "counts": {"licensees": 0, "inCohort": 0, "servedTarget": 0, "healthy": 0, "failed": 0}, "onFailure": "halt", "gates": []},
    errors: { 404: ["CHANNEL_NOT_FOUND", "ROLLOUT_NOT_FOUND"] },
  },
  "GET /api/v1/admin/channels/{name}/rollouts": {
    description: "Role: viewer. CLI: `chartroom rollout list CHANNEL`. Newest first; page with `limit` and `cursor`.",
    response: {"items": [{"id": "07171bff-130e-4ff6-b05a-b12b76f812a6", "channel": "beta", "release": {"id": "44dd1cd6-0b09-41a3-891c-f79a58893915", "version": "0.60.0", "yanked": false}, "previous": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "state": "progressing", "step": 1, "percent": 10, "steps": [{"percent": 10, "bake": "1h"}, {"percent": 100, "bake": "0s"}], "include": ["acme-canary"], "exclude": [], "salt": "07171bff-130e-4ff6-b05a-b12b76f812a6", "reason": "staged", "startedBy": "admin@example.com", "startedAt": "2026-12-01T18:40:51.211Z", "stepStartedAt": "2026-12-01T18:40:51.211Z", "nextStepAt": "2026-12-01T19:40:51.211Z", "endedAt": null, "endedBy": null, "endReason": null, "onFailure": "halt", "gates": []}], "nextCursor": null},
    errors: { 404: ["CHANNEL_NOT_FOUND"] },
  },
  "POST /api/v1/admin/channels/{name}/rollout/pause": {
    description: "Role: release-engineer. CLI: `chartroom rollout pause CHANNEL --reason \u2026`.",
    request: {"reason": "looking at error rates"},
    response: {"changed": true, "message": "rollout of channel beta is paused", "rollout": {"id": "07171bff-130e-4ff6-b05a-b12b76f812a6", "channel": "beta", "release": {"id": "44dd1cd6-0b09-41a3-891c-f79a58893915", "version": "0.60.0", "yanked": false}, "previous": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "state": "paused", "step": 1, "percent": 10, "steps": [{"percent": 10, "bake": "1h"}, {"percent": 100, "bake": "0s"}], "include": ["acme-canary"], "exclude": [], "salt": "07171bff-130e-4ff6-b05a-b12b76f812a6", "reason": "staged", "startedBy": "admin@example.com", "startedAt": "2026-12-01T18:40:51.211Z", "stepStartedAt": "2026-12-01T18:40:51.211Z", "nextStepAt": null, "endedAt": null, "endedBy": null, "endReason": null, "counts": {"licensees": 0, "inCohort": 0, "servedTarget": 0, "healthy": 0, "failed": 0}, "onFailure": "halt", "gates": []}},
    errors: { 423: [], 404: ["CHANNEL_NOT_FOUND"], 409: ["NO_ACTIVE_ROLLOUT", "WRITE_CONFLICT"] },
  },
  "POST /api/v1/admin/channels/{name}/rollout/resume": {
    description: "Role: release-engineer. CLI: `chartroom rollout resume CHANNEL --reason \u2026`.",
    request: {"reason": "false alarm"},
    response: {"changed": true, "message": "rollout of channel beta is progressing", "rollout": {"id": "07171bff-130e-4ff6-b05a-b12b76f812a6", "channel": "beta", "release": {"id": "44dd1cd6-0b09-41a3-891c-f79a58893915", "version": "0.60.0", "yanked": false}, "previous": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "state": "progressing", "step": 1, "percent": 10, "steps": [{"percent": 10, "bake": "1h"}, {"percent": 100, "bake": "0s"}], "include": ["acme-canary"], "exclude": [], "salt": "07171bff-130e-4ff6-b05a-b12b76f812a6", "reason": "staged", "startedBy": "admin@example.com", "startedAt": "2026-12-01T18:40:51.211Z", "stepStartedAt": "2026-12-01T18:40:51.211Z", "nextStepAt": "2026-12-01T19:40:51.211Z", "endedAt": null, "endedBy": null, "endReason": null, "counts": {"licensees": 0, "inCohort": 0, "servedTarget": 0, "healthy": 0, "failed": 0}, "onFailure": "halt", "gates": []}},
    errors: { 404: ["CHANNEL_NOT_FOUND"], 409: ["NO_ACTIVE_ROLLOUT", "WRITE_CONFLICT"], 423: ["FROZEN"] },
  },
  "POST /api/v1/admin/channels/{name}/rollout/advance": {
    description: "Role: release-engineer (`force`: admin). CLI: `chartroom rollout advance CHANNEL --reason \u2026`.",
    request: {"reason": "canaries fine"},
    response: {"changed": true, "message": "rollout of channel beta advanced to rollout 07171bff-130e-4ff6-b05a-b12b76f812a6 step 2 of 2: 100 %", "rollout": {"id": "07171bff-130e-4ff6-b05a-b12b76f812a6", "channel": "beta", "release": {"id": "44dd1cd6-0b09-41a3-891c-f79a58893915", "version": "0.60.0", "yanked": false}, "previous": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "state": "progressing", "step": 2, "percent": 100, "steps": [{"percent": 10, "bake": "1h"}, {"percent": 100, "bake": "0s"}], "include": ["acme-canary"], "exclude": [], "salt": "07171bff-130e-4ff6-b05a-b12b76f812a6", "reason": "staged", "startedBy": "admin@example.com", "startedAt": "2026-12-01T18:40:51.211Z", "stepStartedAt": "2026-12-01T18:40:51.523Z", "nextStepAt": "2026-12-01T18:40:51.523Z", "endedAt": null, "endedBy": null, "endReason": null, "counts": {"licensees": 0, "inCohort": 0, "servedTarget": 0, "healthy": 0, "failed": 0}, "onFailure": "halt", "gates": []}},
    errors: { 404: ["CHANNEL_NOT_FOUND"], 409: ["NO_ACTIVE_ROLLOUT", "GATES_FAILING", "WRITE_CONFLICT"], 423: ["FROZEN"] },
  },
  "POST /api/v1/admin/channels/{name}/rollout/abort": {
    description: "Role: release-engineer. CLI: `chartroom rollout abort CHANNEL --reason \u2026`.",
    request: {"reason": "login broken"},
    response: {"changed": true, "message": "rollout of channel stable is aborted", "rollout": {"id": "507ed17e-07f8-4dbc-b90c-3ad344462ced", "channel": "stable", "release": {"id": "82e65007-85c2-4caf-89dc-3f8e084aeb91", "version": "0.59.2", "yanked": false}, "previous": {"id": "c886c846-4ff6-4928-8ee8-7214079bba5b", "version": "0.58.1", "yanked": false}, "state": "aborted", "step": 1, "percent": 10, "steps": [{"percent": 10, "bake": "1h"}, {"percent": 100, "bake": "0s"}], "include": [], "exclude": [], "salt": "507ed17e-07f8-4dbc-b90c-3ad344462ced", "reason": "staged", "startedBy": "admin@example.com", "startedAt": "2026-12-01T18:40:51.713Z", "stepStartedAt": "2026-12-01T18:40:51.713Z", "nextStepAt": null, "endedAt": "2026-12-01T18:40:51.780Z", "endedBy": "admin@example.com", "endReason": "login broken", "counts": {"licensees": 0, "inCohort": 0, "servedTarget": 0, "healthy": 0, "failed": 0}, "onFailure": "halt", "gates": []}},
    errors: { 423: [], 404: ["CHANNEL_NOT_FOUND"], 409: ["NO_ACTIVE_ROLLOUT", "WRITE_CONFLICT"] },
  },
  "POST /api/v1/admin/webhooks": {
    description: "Role: admin. CLI: `chartroom webhooks add URL --secret-file FILE --events \u2026`. Every delivery is signed `X-Chartroom-Signature: sha256=HMAC(secret, body)`; the secret is never answered.",
    request: {"url": "https://hooks.example.com/chartroom", "secret": "0123456789abcdef0123456789abcdef", "events": ["channel.promoted"]},
    response: {"id": "9e94b55d-3e47-4a7c-bc55-6f501035d6e8", "url": "https://hooks.example.com/chartroom", "events": ["channel.promoted"], "format": "cloudevents", "createdBy": "admin@example.com", "createdAt": "2026-12-01T18:40:52.428Z"},
    errors: {},
  },
  "GET /api/v1/admin/webhooks": {
    description: "Role: admin. CLI: `chartroom webhooks list`.",
    response: {"items": [{"id": "9e94b55d-3e47-4a7c-bc55-6f501035d6e8", "url": "https://hooks.example.com/chartroom", "events": ["channel.promoted"], "format": "cloudevents", "createdBy": "admin@example.com", "createdAt": "2026-12-01T18:40:52.428Z"}]},
    errors: {},
  },
  "DELETE /api/v1/admin/webhooks/{id}": {
    description: "Role: admin. CLI: `chartroom webhooks rm ID`.",
    response: null,
    errors: { 404: ["WEBHOOK_NOT_FOUND"] },
  },
  "GET /api/v1/admin/webhooks/{id}/deliveries": {
    description: "Role: admin. CLI: `chartroom webhooks deliveries ID`. Page with `limit` and `cursor`.",
    response: {"items": [{"id": 2, "eventId": "08472676-8a9e-489e-851c-765646057d07", "type": "channel.promoted", "subject": "channels/beta", "state": "pending", "attempts": 1, "lastStatus": null, "lastError": "getaddrinfo ENOTFOUND hooks.example.com", "nextAttemptAt": "2026-12-01T18:41:00.361Z", "deliveredAt": null, "createdAt": "2026-12-01T18:40:52.604Z"}], "nextCursor": null},
    errors: { 404: ["WEBHOOK_NOT_FOUND"] },
  },
  "GET /api/v1/admin/bundles": {
    description: "Role: admin. CLI: `chartroom bundle export --sub SUB --channel CHANNEL [--out FILE]`. An air-gapped bundle (.tar.gz) of what that licensee's poll gets now, its stepping stones and their charts, signed with the spec key; verify it offline with `chartroom bundle verify FILE --jwks FILE|URL`.",
    response: "(a gzip'd tar: manifest.json, manifest.jws, spec.json, spec.jws, charts/operator-wandb-0.18.2.tgz, images.txt, operator/, stepping-stones/01-0.59.2/)",
    errors: { 404: ["CHANNEL_NOT_FOUND", "CHANNEL_HAS_NO_RELEASE"], 502: ["CHART_SOURCE_UNREACHABLE", "CHART_SOURCE_ERROR", "CHART_NOT_FOUND", "CHART_DIGEST_MISMATCH", "CHART_TOO_LARGE"] },
  },
  "POST /api/v1/admin/apply": {
    description: "Role: admin. CLI: `chartroom apply DIR [--dry-run]`. The declarative files as JSON, applied in one transaction under the promotion rules and each channel's policy; `dryRun: true` answers the plan and every conflict and writes nothing. A real apply fails with the first refusal (its status and code, `field` naming the file) and changes nothing.",
    request: {"channels": [{"name": "unstable", "description": "Every build that passed CI.", "defaultValues": {"global": {"host": "https://wandb.example.com"}}, "release": "0.61.0"}], "releases": [{"version": "0.61.0", "chart": {"url": "https://charts.wandb.ai", "name": "operator-wandb", "version": "0.18.2"}, "images": {"app": {"repository": "wandb/local", "tag": "0.61.0"}}, "upgradeFrom": ">=0.59.0", "notes": "W&B Server 0.61.0"}], "dryRun": true},
    response: {"dryRun": true, "actor": "ci@example.com", "steps": [{"action": "create-release", "target": "0.61.0", "file": "releases/0.61.0.yaml", "detail": "create release 0.61.0"}, {"action": "move-channel", "target": "unstable", "file": "unstable.yaml", "detail": "move unstable from 0.60.0 to 0.61.0", "valuesDiff": [{"op": "replace", "path": "/app/image/tag", "value": "0.61.0"}]}], "notes": [], "conflicts": []},
    errors: { 404: [], 409: ["DECLARATION_CONFLICT", "PROMOTION_REFUSED", "POLICY_REFUSED", "DOWNGRADE_REFUSED", "RELEASE_YANKED", "ROLLOUT_IN_PROGRESS", "WRITE_CONFLICT"], 423: ["FROZEN"], 503: ["DATABASE_BUSY"] },
  },
  "GET /healthz": {
    description: "Liveness: 200 while the process runs; it never reads the database. Never rate-limited.",
    response: {"status": "ok"},
    errors: {},
  },
  "GET /readyz": {
    description: "Readiness: 200 once the database is reachable, every migration is applied and the first load is done; 503 with a reason otherwise (then `chartroom_database_up` says why). Never rate-limited.",
    response: {"status": "ready"},
    errors: {},
  },
  "GET /metrics": {
    description: "Prometheus text exposition; never rate-limited. docs/api.md \u00a716 lists the metrics.",
    response: "# HELP chartroom_http_requests_total Requests by route and status\n# TYPE chartroom_http_requests_total counter\nchartroom_http_requests_total{method=\"GET\",route=\"/api/v1/operator/channel\",status=\"200\"} 1482\n",
    errors: {},
  },
  "GET /.well-known/jwks.json": {
    description: "The public half of `LICENSE_SIGNING_KEY_FILE`, for verifiers of the licenses this server issues (cached 5 minutes).",
    response: {"keys": [{"kty": "EC", "x": "HVpfT6Qb42BEb-GE1Mwzahqdg3hui3NL5U0v6h6AeW8", "y": "t9huPTQ3dlAZo9D0S7OPXkiv_kw3NsJUS3LIGMBRNS8", "crv": "P-256", "kid": "dC0SHl_qzBcOFRD_c71yRD6dkymyJOd65QmRRjykjIw", "alg": "ES256", "use": "sig"}]},
    errors: {},
  },};

interface Media { schema?: unknown; example?: unknown; examples?: Record<string, unknown> }
interface Response { description?: string; content?: Record<string, Media>; "x-error-codes"?: string[] }
interface Operation {
  description?: string;
  parameters?: { in: string; name: string; example?: unknown }[];
  requestBody?: { content?: Record<string, Media> };
  responses?: Record<string, Response>;
}
interface Document { paths?: Record<string, Record<string, Operation>> }

/** Example values of path and query parameters, by name. */
const PARAMETER_EXAMPLES: Record<string, unknown> = {
  name: "stable", idOrVersion: "0.59.2", versionId: "0.59.2", jti: "5f0c3a8e-6d2b-4b1e-9a7c-2e4d8f1b0c93", sub: "acme",
  id: "8be5a25a-d879-4632-a08b-4662a4cb2f6c", channel: "stable", limit: 50,
  q: "acme", notSeenForHours: 24, actor: "you@example.com", action: "channel.promote", targetType: "channel", target: "stable",
  since: "2026-12-01T00:00:00Z", until: "2026-12-02T00:00:00Z",
};

const SUCCESS: Record<string, string> = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 304: "Not Modified (If-None-Match matched the ETag)", 503: "Not ready" };

/** The example error body for `code` at `status`. */
function errorExample(status: number, code: string): unknown {
  const base = ERROR_DOCS[code];
  const d = base?.byStatus?.[status] ?? base;
  const field = base?.byStatus?.[status] ? undefined : base?.field;
  return { statusCode: status, error: reasonPhrase(status), code, message: d?.example ?? code, ...(field && d ? { field, reason: d.example.replace(/^\w+: /, "") } : {}) };
}

/**
 * Merges OPERATIONS into the generated document: descriptions, examples,
 * and per error status its codes (`x-error-codes`, the response's
 * description, one example each). An operation missing from the table is left
 * as generated (the completeness test names it).
 */
export function documentOperations<D>(doc: D): D {
  const paths = (doc as Document).paths ?? {};
  let errorSchema: unknown;
  for (const ops of Object.values(paths)) for (const op of Object.values(ops)) for (const r of Object.values(op.responses ?? {})) {
    const s = r.content?.["application/json"]?.schema as { properties?: Record<string, unknown> } | undefined;
    if (s?.properties?.code && s.properties.statusCode) errorSchema ??= s;
  }
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const d = OPERATIONS[`${method.toUpperCase()} ${path}`];
      if (!d) continue;
      op.description = [d.description, op.description].filter(Boolean).join("\n\n");
      for (const p of op.parameters ?? []) if (p.example === undefined && PARAMETER_EXAMPLES[p.name] !== undefined) p.example = PARAMETER_EXAMPLES[p.name];
      const body = op.requestBody?.content?.["application/json"];
      if (body && d.request !== undefined) body.example = d.request;
      op.responses ??= {};
      const ok = Object.keys(op.responses).filter((s) => /^2\d\d$/.test(s)).sort()[0];
      const answers: Record<string, unknown> = { ...(ok && d.response !== null ? { [ok]: d.response } : {}), ...d.other };
      for (const [s, example] of Object.entries(answers)) {
        const r = op.responses[s];
        if (!r) continue;
        // A string: a text answer, or a description of a binary one (the route's own media type, e.g. the bundle's application/gzip).
        const binary = Object.keys(r.content ?? {}).find((k) => k !== "application/json" && !k.startsWith("text/"));
        if (typeof example === "string") r.content = binary ? { [binary]: { schema: { type: "string", format: "binary" }, example } } : { "text/plain": { schema: { type: "string" }, example } };
        else r.content = { ...r.content, "application/json": { schema: {}, ...r.content?.["application/json"], example } };
      }
      for (const [s, r] of Object.entries(op.responses)) if (r.description === "Default Response") r.description = SUCCESS[s] ?? "Answer";
      const errors = commonErrors(path, body !== undefined, (op.parameters ?? []).some((p) => p.in === "path" || p.in === "query"));
      for (const [s, codes] of Object.entries(d.errors)) {
        if (codes.length === 0) delete op.responses[s];
        else errors[Number(s)] = [...new Set([...(errors[Number(s)] ?? []), ...codes])];
      }
      for (const [s, codes] of Object.entries(errors)) {
        const r = (op.responses[s] ??= { description: "Error", content: { "application/json": { schema: errorSchema } } });
        r["x-error-codes"] = codes;
        r.description = codes.map((c) => `\`${c}\`: ${(ERROR_DOCS[c]?.byStatus?.[Number(s)] ?? ERROR_DOCS[c])?.meaning ?? ""}`).join("\n\n");
        const media = r.content?.["application/json"];
        if (media) media.examples = Object.fromEntries(codes.map((c) => [c, { summary: c, value: errorExample(Number(s), c) }]));
      }
    }
  }
  return doc;
}
