// The one error handler and the one not-found handler. Every error leaves
// as {"statusCode","error","code","message"} plus "field" and "reason" for
// bad input, and "errors" (every problem) when there is more than one. 5xx answers never carry internal messages; they are logged
// with the request id instead.
import type { Duplex } from "node:stream";
import type { FastifyBaseLogger, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { API_SECURITY_HEADERS } from "./security-headers.js";
import { newRequestId } from "../request-id.js";
import { MAX_PATH_PARAM_LENGTH } from "../domain/schemas.js";
import { STATUS_CODES } from "node:http";
import { hasZodFastifySchemaValidationErrors } from "@fastify/type-provider-zod";
import { describeIssues, issuesText, type FieldReason, type ZodLikeIssue } from "../domain/issues.js";
import {
  BadRequestError,
  BodyTooLargeError,
  DatabaseUnavailableError,
  HeadersTooLargeError,
  InternalError,
  MalformedBodyError,
  NotReadyError,
  RequestTimeoutError,
  RouteNotFoundError,
  UnsupportedMediaTypeError,
  UriTooLongError,
  ValidationError,
  withField,
  type FieldError,
} from "../errors.js";

export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  field?: string;
  reason?: string;
  /** Every problem, when the input has more than one (the first is `field` and `reason`; docs/api.md §13). */
  errors?: FieldReason[];
}

function errorBody(statusCode: number, code: string, message: string, extra: { field?: string; reason?: string; errors?: FieldReason[] } = {}): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? "Error", code, message, ...extra };
}

const UNAVAILABLE_CODE = new DatabaseUnavailableError().code;
const NOT_READY_CODE = new NotReadyError().code;

/** A catalogue error as a body: code, status and message from src/errors.ts. */
function fromCatalogue(e: FastifyError): ErrorBody {
  return errorBody(e.statusCode ?? 500, e.code, e.message);
}

const BAD_REQUEST_CODE = new BadRequestError().code;

/** An error that may name the field at fault, as a body with that field and reason. */
function withFieldOf(e: FastifyError & FieldError, code = e.code): ErrorBody {
  const extra: { field?: string; reason?: string; errors?: FieldReason[] } = {};
  if (e.field) extra.field = e.field;
  if (e.reason) extra.reason = e.reason;
  if (e.errors && e.errors.length > 1) extra.errors = e.errors;
  return errorBody(e.statusCode ?? 400, code, e.message, extra);
}

export function toErrorBody(err: FastifyError & FieldError, req: FastifyRequest): ErrorBody {
  if (hasZodFastifySchemaValidationErrors(err)) {
    // @fastify/type-provider-zod 1.x hands each zod issue over as
    // {keyword: code, instancePath: "/a/b", message, params: rest of the issue}:
    // every one is described, so a body with three mistakes hears of three.
    const issues = err.validation.map((v) => {
      const x = v as unknown as { keyword?: string; instancePath?: string; message?: string; params?: ZodLikeIssue & { issue?: ZodLikeIssue } };
      return (
        x.params?.issue ??
        (x.keyword !== undefined
          ? { ...x.params, code: x.keyword, message: x.message ?? "is invalid", path: (x.instancePath ?? "").split("/").filter((p) => p !== "") }
          : { path: (x.instancePath ?? "").split("/").filter((p) => p !== ""), message: x.message ?? "is invalid" })
      );
    });
    const problems = describeIssues(issues);
    const first = problems[0] ?? { field: "(body)", reason: "is invalid" };
    // A body's fields are named as they are written (chart.version); a query's or a path's with where they are.
    const where = err.validationContext && err.validationContext !== "body" ? `${err.validationContext}.` : "";
    const body = withFieldOf(withField(new ValidationError(issuesText(problems, where)), first.field, first.reason));
    return problems.length > 1 ? { ...body, errors: problems } : body;
  }
  const status = err.statusCode ?? 500;
  // Not the path itself in the message: it may be kilobytes long.
  if (err.code === "FST_ERR_MAX_PARAM_LENGTH") return fromCatalogue(new UriTooLongError(MAX_PATH_PARAM_LENGTH));
  if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return fromCatalogue(new BodyTooLargeError(req.routeOptions.bodyLimit ?? "the limit of"));
  if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") return fromCatalogue(new UnsupportedMediaTypeError());
  if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY") return withFieldOf(withField(new ValidationError("body: must be a JSON object"), "(body)", "must be a JSON object"));
  if (err.code?.startsWith("FST_ERR_CTP_") || (err instanceof SyntaxError && status === 400)) {
    return withFieldOf(withField(new MalformedBodyError(), "(body)", "is not valid JSON"));
  }
  if (status >= 500 || status < 400) {
    // Our own 503s (DATABASE_UNAVAILABLE, DATABASE_BUSY, NOT_READY, …) say what to do, and our 502s
    // which chart source failed (CHART_SOURCE_UNREACHABLE, …); anything else is internal.
    if (status === 503 && err.code && !err.code.startsWith("FST_")) return fromCatalogue(err);
    if (status === 502 && err.code?.startsWith("CHART_")) return fromCatalogue(err);
    return fromCatalogue(new InternalError());
  }
  // fastify's own 4xx (a bad URL, a too-long parameter, …): our code, its message.
  if (err.code?.startsWith("FST_")) return withFieldOf(new BadRequestError(err.message), BAD_REQUEST_CODE);
  return withFieldOf(err, err.code ?? BAD_REQUEST_CODE);
}

/**
 * Errors fastify meets before routing (a malformed URL), which its error
 * handler never sees: rendered the same way (src/app.ts, frameworkErrors).
 */
export function renderFrameworkError(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const body = toErrorBody(err, req);
  req.log.info({ code: body.code, status: body.statusCode, requestId: req.id }, "request refused");
  reply.headers(API_SECURITY_HEADERS).header("x-request-id", req.id).code(body.statusCode).type("application/json; charset=utf-8").send(body);
}

/** How long a refused connection may take to read its answer before it is destroyed. */
const CLIENT_ERROR_LINGER_MS = 2_000;

/**
 * Requests Node's HTTP parser refuses before fastify sees them (headers
 * over the server's maxHeaderSize, a request that is not HTTP, one not
 * received within requestTimeout): the same JSON error body and security
 * headers as every other error, a request id of ours (the caller's header
 * was not read), and the connection closed once the answer is out. Used as
 * fastify's clientErrorHandler (src/app.ts).
 */
export function renderClientError(err: NodeJS.ErrnoException, socket: Duplex, log: FastifyBaseLogger, maxHeaderBytes: number): void {
  // A reset connection has nobody to answer.
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const error =
    err.code === "HPE_HEADER_OVERFLOW"
      ? new HeadersTooLargeError(maxHeaderBytes)
      : err.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? new RequestTimeoutError()
        : new BadRequestError("the request is not valid HTTP/1.1");
  const body = JSON.stringify(fromCatalogue(error));
  const requestId = newRequestId();
  log.info({ code: error.code, status: error.statusCode, requestId, parserError: err.code }, "request refused by the HTTP parser");
  // An answer already on its way on this socket (a pipelined request that
  // failed to parse after it) must not get our bytes in its middle; Node's
  // own handler checks the same.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (!socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const headers = {
    ...API_SECURITY_HEADERS,
    "x-request-id": requestId,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(Buffer.byteLength(body)),
    connection: "close",
  };
  const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  // end(), not destroy(): unread request bytes would make the kernel reset
  // the connection before the client reads the answer. What the client
  // still sends is read and dropped; a client that never closes is cut.
  socket.resume();
  socket.end(`HTTP/1.1 ${error.statusCode} ${STATUS_CODES[error.statusCode ?? 400]}\r\n${head}\r\n${body}`);
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref();
}

/** At most one DATABASE_UNAVAILABLE line per this many ms. */
const DATABASE_DOWN_LOG_MS = 10_000;

/**
 * While the database is down every request fails the same way: one error
 * line per 10 s, with the driver's code and message (no stack) and how many
 * requests failed since the last line; the others only at debug level.
 */
function throttledDatabaseLog() {
  let loggedAt = -Infinity;
  let since = 0;
  return (err: FastifyError, req: FastifyRequest) => {
    since++;
    const now = Date.now();
    const cause = (err.cause ?? err) as { code?: unknown; message?: unknown };
    const driver = { code: cause.code, message: String(cause.message ?? "").split("\n").filter(Boolean).at(-1) };
    if (now - loggedAt < DATABASE_DOWN_LOG_MS) {
      req.log.debug({ code: UNAVAILABLE_CODE, driver, requestId: req.id }, "request failed: database unavailable");
      return;
    }
    req.log.error({ code: UNAVAILABLE_CODE, driver, failedRequests: since, requestId: req.id }, "requests failing: database unavailable (one line per 10 s)");
    loggedAt = now;
    since = 0;
  };
}

export default fp(
  async function errorHandler(app: FastifyInstance, opts: { onUnavailable?: () => void }) {
    const databaseDownLog = throttledDatabaseLog();
    app.setErrorHandler((err: FastifyError & FieldError, req: FastifyRequest, reply: FastifyReply) => {
      const body = toErrorBody(err, req);
      if (body.code === UNAVAILABLE_CODE) {
        opts.onUnavailable?.();
        databaseDownLog(err, req);
      } else if (body.statusCode >= 500 && body.code !== NOT_READY_CODE) {
        // NOT_READY is a state, not a failure: a starting replica refuses its
        // first polls (an error line with a stack each would flood the log).
        req.log.error({ err, code: body.code, requestId: req.id }, "request failed");
      } else {
        req.log.info({ code: body.code, field: body.field, status: body.statusCode, requestId: req.id }, "request refused");
      }
      if (body.statusCode === 401 && !reply.hasHeader("www-authenticate")) {
        reply.header("www-authenticate", req.url.startsWith("/api/v1/admin") ? 'Bearer realm="chartroom-admin"' : 'Basic realm="chartroom"');
      }
      const retryAfter = (err as { retryAfter?: unknown }).retryAfter;
      if (typeof retryAfter === "number" && !reply.hasHeader("retry-after")) reply.header("retry-after", String(retryAfter));
      if (body.statusCode === 503 && !reply.hasHeader("retry-after")) reply.header("retry-after", "5");
      // The operator routes carry no helmet (src/app.ts): their errors get the API's constant block.
      if (!reply.hasHeader("content-security-policy")) reply.headers(API_SECURITY_HEADERS);
      reply.code(body.statusCode).type("application/json; charset=utf-8").send(body);
    });
    app.setNotFoundHandler((req, reply) => {
      reply.headers(API_SECURITY_HEADERS);
      reply.code(404).send(fromCatalogue(new RouteNotFoundError(req.method, req.url.split("?")[0])));
    });
  },
  { name: "error-handler" },
);
