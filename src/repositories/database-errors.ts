// Driver errors become catalogue errors here, and only here: the one place
// that knows Prisma's, the driver adapters' and the databases' own codes.
// Everything the store hands out (every repository call, a transaction,
// ping) throws DatabaseUnavailableError, DatabaseBusyError or
// UniqueViolationError instead of a driver error; services and the HTTP
// error handler know only those (src/errors.ts).
import { DatabaseBusyError, DatabaseUnavailableError, UniqueViolationError } from "../errors.js";

interface AdapterCause {
  kind?: unknown;
  constraint?: { fields?: unknown };
  /** The database's own code (SQLSTATE, SQLITE_…), when the adapter wrapped it. */
  originalCode?: unknown;
  code?: unknown;
  message?: unknown;
  originalMessage?: unknown;
}

interface DriverErrorLike {
  code?: unknown;
  message?: unknown;
  cause?: AdapterCause | undefined;
  meta?: {
    modelName?: unknown;
    target?: unknown;
    driverAdapterError?: { cause?: AdapterCause };
  };
}

/** Codes (Prisma, Node's sockets, PostgreSQL SQLSTATE) that mean the database cannot be used at all. */
const UNAVAILABLE_CODES = new Set([
  // Prisma: can't reach, timed out, connection closed, pool timeout
  "P1001", "P1002", "P1017", "P2024",
  // sockets and DNS
  "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EHOSTUNREACH",
  // PostgreSQL: admin shutdown, cannot connect now, connection failure, no such database, bad password,
  // too many connections, statement_timeout (src/db/timeouts.ts)
  "57P01", "57P03", "08006", "08001", "3D000", "28P01", "53300", "57014",
  // SQLite: the file cannot be opened
  "SQLITE_CANTOPEN",
]);
// "Query read timeout": pg's query_timeout (a server that does not answer);
// "not currently accepting connections": ALLOW_CONNECTIONS false (SQLSTATE 55000, a code with other meanings too).
const UNAVAILABLE_MESSAGE =
  /ECONNREFUSED|ECONNRESET|ENOTFOUND|Connection terminated|connect ETIMEDOUT|terminating connection|Can't reach database|timeout exceeded when trying to connect|Server has closed the connection|Query read timeout|is not currently accepting connections/i;
/** What Prisma's driver adapters call the same failures. */
const UNAVAILABLE_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "DatabaseDoesNotExist", "AuthenticationFailed", "TooManyConnections"]);

/**
 * Codes of a database that answers but cannot store a write: a full disk,
 * a read-only file or server, a failing disk. Reads still work; the store
 * records the failure for readiness (src/repositories/store.ts).
 */
const WRITE_REFUSED_CODES = new Set(["53100", "25006"]);
const WRITE_REFUSED_SQLITE = /^SQLITE_(FULL|READONLY|IOERR)/;

/** Codes of a transaction that lost a race, not a rule: worth retrying. */
const BUSY_CODES = new Set(["P2034", "40001", "40P01", "SQLITE_BUSY"]);
const BUSY_MESSAGE = /SQLITE_BUSY|database is locked|could not serialize|deadlock detected|write conflict/i;

export type DatabaseErrorKind = "unavailable" | "write-refused" | "busy" | "unique";

function adapterCause(e: DriverErrorLike) {
  return e.meta?.driverAdapterError?.cause ?? e.cause;
}

/** What a driver error means, or undefined when it is not one this layer knows (a bug, a rule). */
export function classifyDatabaseError(err: unknown): DatabaseErrorKind | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  // Already translated (its cause is the driver error): not a driver error itself.
  if (err instanceof DatabaseUnavailableError || err instanceof DatabaseBusyError || err instanceof UniqueViolationError) return undefined;
  const e = err as DriverErrorLike;
  const cause = adapterCause(e);
  const kind = String(cause?.kind ?? "");
  // The adapter's cause carries the database's own code under the Prisma code (P2010, …).
  const code = String(cause?.originalCode ?? (kind === "postgres" ? cause?.code : undefined) ?? e.code ?? "");
  const message = [e.message, ...(cause?.kind !== undefined ? [cause.message, cause.originalMessage] : [])].filter((m) => m !== undefined).map(String).join(" ");
  if (WRITE_REFUSED_CODES.has(code) || WRITE_REFUSED_SQLITE.test(code)) return "write-refused";
  if (UNAVAILABLE_CODES.has(code) || UNAVAILABLE_CODES.has(String(e.code ?? "")) || UNAVAILABLE_KINDS.has(kind) || UNAVAILABLE_MESSAGE.test(message)) return "unavailable";
  if (BUSY_CODES.has(code) || BUSY_CODES.has(String(e.code ?? "")) || kind === "TransactionWriteConflict" || BUSY_MESSAGE.test(message)) return "busy";
  if (code === "P2002" || e.code === "P2002" || kind === "UniqueConstraintViolation") return "unique";
  return undefined;
}

/** The columns of a violated unique constraint, as Prisma reports them (with or without a driver adapter). */
function uniqueFields(e: DriverErrorLike): string[] {
  const fields = adapterCause(e)?.constraint?.fields ?? e.meta?.target;
  if (Array.isArray(fields)) return fields.map(String);
  return typeof fields === "string" ? [fields] : [];
}

/**
 * The catalogue error for a driver error (the driver error kept as `cause`,
 * for the log); anything else unchanged, so this is safe to apply twice.
 */
export function toCatalogueError(err: unknown): unknown {
  switch (classifyDatabaseError(err)) {
    case "unavailable":
    case "write-refused":
      return new DatabaseUnavailableError({ cause: err });
    case "busy":
      return new DatabaseBusyError({ cause: err });
    case "unique": {
      const e = err as DriverErrorLike;
      const model = typeof e.meta?.modelName === "string" ? e.meta.modelName : "record";
      const fields = uniqueFields(e);
      return Object.assign(new UniqueViolationError(model, fields.join(", ") || "key", { cause: err }), { model, fields });
    }
    default:
      return err;
  }
}

/** Told of every error a translated call throws, with what it means (undefined: not a database error). */
export type ErrorObserver = (kind: DatabaseErrorKind | undefined, err: unknown) => void;

function rethrower(observe: ErrorObserver | undefined) {
  return (err: unknown): never => {
    observe?.(classifyDatabaseError(err), err);
    throw toCatalogueError(err);
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any function of a repository
type AnyFn = (...args: any[]) => any;

/** The same repository, each method's driver errors turned into catalogue errors. */
export function translated<R extends Record<string, unknown>>(repo: R, observe?: ErrorObserver): R {
  const rethrow = rethrower(observe);
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(repo)) {
    if (typeof value !== "function") {
      out[name] = value;
      continue;
    }
    const fn = value as AnyFn;
    out[name] = function (this: unknown, ...args: unknown[]) {
      try {
        const result: unknown = fn.apply(this, args);
        return result instanceof Promise ? result.catch(rethrow) : result;
      } catch (err) {
        rethrow(err);
      }
    };
  }
  return out as R;
}

/** Runs `fn` with its driver errors turned into catalogue errors. */
export async function translating<T>(fn: () => Promise<T>, observe?: ErrorObserver): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    return rethrower(observe)(err);
  }
}
