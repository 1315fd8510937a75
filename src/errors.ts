// The one catalogue of Chartroom's errors. Each has a stable `code` that
// clients branch on, an HTTP status, and a message template. Services throw
// these; the error handler (src/plugins/error-handler.ts) renders them as
// {"statusCode","error","code","message"[,"field","reason"]}.
import createError, { type FastifyErrorConstructor } from "@fastify/error";

/** An error that names the input field at fault (rendered as `field`). */
export interface FieldError extends Error {
  field?: string;
  reason?: string;
  /** Every problem when there are several (the first is field and reason): the answer's `errors`. */
  errors?: { field: string; reason: string }[];
}

function def(code: string, message: string, statusCode: number): FastifyErrorConstructor {
  return createError(code, message, statusCode);
}

// 400 — bad input
export const ValidationError = def("VALIDATION_FAILED", "%s", 400);
export const MalformedBodyError = def("MALFORMED_BODY", "body is not valid JSON", 400);
/** A 4xx from the framework or a plugin that carries no code of its own. */
export const BadRequestError = def("BAD_REQUEST", "%s", 400);
// 401 — license or admin credentials
export const LicenseMissingError = def("LICENSE_MISSING", "a license is required (Authorization: Basic license:<JWT> or Bearer <JWT>)", 401);
export const LicenseMalformedError = def("LICENSE_MALFORMED", "the license is not a well-formed JWT: %s", 401);
export const LicenseTooLargeError = def("LICENSE_TOO_LARGE", "the license is longer than %s bytes", 401);
export const LicenseAlgorithmError = def("LICENSE_ALG_NOT_ALLOWED", "license algorithm %s is not allowed (RS256, ES256, EdDSA)", 401);
export const LicenseUnknownKeyError = def("LICENSE_UNKNOWN_KID", "the license's key id is not trusted", 401);
export const LicenseSignatureError = def("LICENSE_BAD_SIGNATURE", "the license signature is invalid", 401);
export const LicenseExpiredError = def("LICENSE_EXPIRED", "the license has expired", 401);
export const LicenseNotYetValidError = def("LICENSE_NOT_YET_VALID", "the license is not valid yet", 401);
export const LicenseIssuerError = def("LICENSE_WRONG_ISSUER", "the license was issued by an untrusted issuer", 401);
export const LicenseAudienceError = def("LICENSE_WRONG_AUDIENCE", "the license is not meant for this server", 401);
export const LicenseClaimsError = def("LICENSE_CLAIMS_INVALID", "the license claims are invalid: %s", 401);
export const AdminAuthError = def("ADMIN_UNAUTHORIZED", "%s", 401);
// 403
export const LicenseRevokedError = def("LICENSE_REVOKED", "this license has been revoked", 403);
export const ReleaseNotEntitledError = def("RELEASE_NOT_ENTITLED", "release %s is not available to this license", 403);
export const RoleRequiredError = def("ROLE_REQUIRED", "this action needs the %s role", 403);
/** A pin of a yanked release (docs/api.md §1, 403): the code says why, unlike RELEASE_NOT_ENTITLED. */
export const PinnedReleaseYankedError = def("RELEASE_YANKED", "release %s is yanked: it is never served again", 403);
/** A pin the licensee's installed version cannot reach directly (docs/api.md §8): the message names the stepping stone. */
export const UpgradePathRequiredError = def("UPGRADE_PATH_REQUIRED", "%s", 403);
// 404
export const NotFoundError = def("NOT_FOUND", "%s", 404);
export const ChannelNotFoundError = def("CHANNEL_NOT_FOUND", "channel %s does not exist", 404);
export const ChannelEmptyError = def("CHANNEL_HAS_NO_RELEASE", "channel %s has no release yet", 404);
export const ReleaseNotFoundError = def("RELEASE_NOT_FOUND", "release %s does not exist", 404);
export const RolloutNotFoundError = def("ROLLOUT_NOT_FOUND", "channel %s has never had a rollout", 404);
export const FleetEntryNotFoundError = def("FLEET_ENTRY_NOT_FOUND", "licensee %s has no fleet entry (it has not polled this server, or its first poll is not written yet)", 404);
export const WebhookNotFoundError = def("WEBHOOK_NOT_FOUND", "webhook %s does not exist", 404);
export const RouteNotFoundError = def("ROUTE_NOT_FOUND", "no route %s %s", 404);
// 409
export const ChannelExistsError = def("CHANNEL_EXISTS", "channel %s already exists", 409);
export const ReleaseExistsError = def("RELEASE_EXISTS", "release %s already exists; releases are immutable", 409);
export const ReleaseYankedError = def("RELEASE_YANKED", "release %s is yanked", 409);
export const PromotionConflictError = def("PROMOTION_CONFLICT", "%s", 409);
export const PromotionRefusedError = def("PROMOTION_REFUSED", "%s", 409);
export const DowngradeRefusedError = def("DOWNGRADE_REFUSED", "%s", 409);
export const RollbackRefusedError = def("ROLLBACK_REFUSED", "%s", 409);
/** A channel's policy (upstream, minSoak, downgradeRole: docs/api.md §3) refuses the move; the message names the policy and what would work. */
export const PolicyRefusedError = def("POLICY_REFUSED", "%s", 409);
export const DeclarationConflictError = def("DECLARATION_CONFLICT", "%s", 409);
export const WriteConflictError = def("WRITE_CONFLICT", "the change collided with a concurrent one; retry", 409);
/**
 * A unique constraint refused a write (thrown by the repositories, see
 * src/repositories/database-errors.ts): services turn it into what it means
 * (CHANNEL_EXISTS, …); one that reaches a client unmapped is still a 409.
 */
export const UniqueViolationError = def("UNIQUE_VIOLATION", "a %s with this %s already exists", 409);
export interface UniqueViolation extends InstanceType<typeof UniqueViolationError> {
  /** The Prisma model ("Channel"), or "record" when the driver did not say. */
  model: string;
  /** The constraint's columns, e.g. ["name"]. */
  fields: string[];
}
/** Whether `err` is a unique violation, optionally of exactly these columns. */
export function isUniqueViolation(err: unknown, ...fields: string[]): err is UniqueViolation {
  if (!(err instanceof UniqueViolationError)) return false;
  const got = (err as UniqueViolation).fields;
  return fields.length === 0 || (got.length === fields.length && fields.every((f) => got.includes(f)));
}
/** Lifting a freeze that is not on (never set, lifted, or past its `until`). */
export const NotFrozenError = def("NOT_FROZEN", "%s", 409);
export const RolloutInProgressError = def("ROLLOUT_IN_PROGRESS", "%s", 409);
export const NoActiveRolloutError = def("NO_ACTIVE_ROLLOUT", "%s", 409);
export const GatesFailingError = def("GATES_FAILING", "%s", 409);
// 423 — the line is stopped (docs/api.md §7)
export const FrozenError = def("FROZEN", "%s", 423);
// 502 — a chart source a bundle is made from (docs/api.md §11): the message names the source URL
export const ChartSourceUnreachableError = def("CHART_SOURCE_UNREACHABLE", "%s", 502);
export const ChartSourceError = def("CHART_SOURCE_ERROR", "%s", 502);
export const ChartNotFoundError = def("CHART_NOT_FOUND", "%s", 502);
export const ChartDigestMismatchError = def("CHART_DIGEST_MISMATCH", "%s", 502);
export const ChartTooLargeError = def("CHART_TOO_LARGE", "%s", 502);
// 408 / 413 / 414 / 415 / 429 / 431 / 500 / 503
export const RequestTimeoutError = def("REQUEST_TIMEOUT", "the request was not received in time", 408);
export const BodyTooLargeError = def("BODY_TOO_LARGE", "request body is larger than %s bytes", 413);
export const UriTooLongError = def("URI_TOO_LONG", "a path parameter is longer than %s characters", 414);
export const HeadersTooLargeError = def("HEADERS_TOO_LARGE", "the request headers are larger than %s bytes", 431);
export const UnsupportedMediaTypeError = def("UNSUPPORTED_MEDIA_TYPE", "send JSON (Content-Type: application/json)", 415);
export const RateLimitedError = def("RATE_LIMITED", "rate limit exceeded, retry in %s seconds", 429);
/** Anything not in this catalogue: the details go to the log, never to the client. */
export const InternalError = def("INTERNAL", "internal error; see the server log for this request id", 500);
export const DatabaseUnavailableError = def("DATABASE_UNAVAILABLE", "the database is unavailable; retry later", 503);
export const NotReadyError = def("NOT_READY", "this server is still loading its data (revocations, overrides); retry in a few seconds", 503);
export const DatabaseBusyError = def("DATABASE_BUSY", "the database is busy with concurrent changes; retry shortly", 503);
export const LicenseIssuingDisabledError = def("LICENSE_ISSUING_DISABLED", "this server has no license signing key (set LICENSE_SIGNING_KEY_FILE)", 503);

/** Builds an error that names the field at fault. */
export function fieldError(field: string, reason: string): FieldError {
  const err = new ValidationError(`${field}: ${reason}`) as FieldError;
  err.field = field;
  err.reason = reason;
  return err;
}

/** Attaches a field name to any catalogue error. */
export function withField<E extends Error>(err: E, field: string, reason?: string): E & FieldError {
  const e = err as E & FieldError;
  e.field = field;
  e.reason = reason ?? err.message;
  return e;
}
export const LicenseAlreadyRevokedError = def("LICENSE_ALREADY_REVOKED", "license %s is already revoked", 409);
