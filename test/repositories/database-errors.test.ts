import t from "tap";
import { DatabaseBusyError, DatabaseUnavailableError, PromotionConflictError, UniqueViolationError, isUniqueViolation, type UniqueViolation } from "../../src/errors.js";
import { classifyDatabaseError, toCatalogueError, translated } from "../../src/repositories/database-errors.js";
import { eachProvider, freshDatabase } from "../helpers/db.js";
import { migrate } from "../../src/db/migrate.js";
import { createStore } from "../../src/repositories/store.js";

const err = (message: string, extra: object = {}) => Object.assign(new Error(message), extra);
const adapterError = (kind: string, extra: object = {}) => err("driver adapter error", { code: "P2010", meta: { driverAdapterError: { cause: { kind, ...extra } } } });

t.test("driver errors by kind: one table for the server and the CLI", async (t) => {
  const table: [string, unknown, ReturnType<typeof classifyDatabaseError>][] = [
    ["refused", err("connect ECONNREFUSED 127.0.0.1:5432", { code: "ECONNREFUSED" }), "unavailable"],
    ["DNS", err("getaddrinfo ENOTFOUND db", { code: "ENOTFOUND" }), "unavailable"],
    ["no route", err("connect EHOSTUNREACH", { code: "EHOSTUNREACH" }), "unavailable"],
    ["Prisma can't reach", err("Can't reach database server", { code: "P1001" }), "unavailable"],
    ["pool timeout", err("timeout exceeded when trying to connect"), "unavailable"],
    ["admin shutdown", err("terminating connection due to administrator command", { code: "57P01" }), "unavailable"],
    ["no such database", err('database "x" does not exist', { code: "3D000" }), "unavailable"],
    ["bad password", err("password authentication failed", { code: "28P01" }), "unavailable"],
    ["adapter: not reachable", adapterError("DatabaseNotReachable"), "unavailable"],
    ["adapter: closed", adapterError("ConnectionClosed"), "unavailable"],
    ["too many connections", err("sorry, too many clients already", { code: "53300" }), "unavailable"],
    ["statement_timeout", adapterError("postgres", { code: "57014", message: "canceling statement due to statement timeout" }), "unavailable"],
    ["pg query_timeout", err("Query read timeout"), "unavailable"],
    ["ALLOW_CONNECTIONS false", adapterError("postgres", { code: "55000", message: 'database "x" is not currently accepting connections' }), "unavailable"],
    ["55000 for another reason", adapterError("postgres", { code: "55000", message: "currval of sequence is not yet defined" }), undefined],
    ["SQLite cannot open", err("unable to open database file", { code: "SQLITE_CANTOPEN" }), "unavailable"],
    ["SQLite disk full", err("database or disk is full", { code: "SQLITE_FULL" }), "write-refused"],
    ["SQLite read-only", err("attempt to write a readonly database", { code: "SQLITE_READONLY" }), "write-refused"],
    ["SQLite write I/O error", err("disk I/O error", { code: "SQLITE_IOERR_WRITE" }), "write-refused"],
    ["SQLite wrapped by the adapter", adapterError("sqlite", { originalCode: "SQLITE_FULL" }), "write-refused"],
    ["PG disk full", adapterError("postgres", { code: "53100", message: "could not extend file" }), "write-refused"],
    ["PG read-only (a standby)", adapterError("postgres", { code: "25006", message: "cannot execute INSERT in a read-only transaction" }), "write-refused"],
    ["SQLite busy", err("SqliteError: database is locked", { code: "SQLITE_BUSY" }), "busy"],
    ["serialization", err("could not serialize access", { code: "40001" }), "busy"],
    ["deadlock", err("deadlock detected", { code: "40P01" }), "busy"],
    ["Prisma write conflict", err("Transaction failed due to a write conflict or a deadlock", { code: "P2034" }), "busy"],
    ["adapter: write conflict", adapterError("TransactionWriteConflict"), "busy"],
    ["unique (Prisma)", err("Unique constraint failed", { code: "P2002", meta: { target: ["name"] } }), "unique"],
    ["unique (adapter)", adapterError("UniqueConstraintViolation", { constraint: { fields: ["version"] } }), "unique"],
    ["a bug", new TypeError("x is not a function"), undefined],
    ["a rule", new PromotionConflictError("moved"), undefined],
    ["not an error", "text", undefined],
    ["null", null, undefined],
  ];
  for (const [name, e, kind] of table) t.equal(classifyDatabaseError(e), kind, name);
});

t.test("catalogue errors keep the driver error as their cause; anything else passes unchanged", async (t) => {
  const refused = err("connect ECONNREFUSED", { code: "ECONNREFUSED" });
  const down = toCatalogueError(refused);
  t.ok(down instanceof DatabaseUnavailableError);
  t.equal((down as Error).cause, refused);
  t.equal(toCatalogueError(down), down, "safe to apply twice");
  t.ok(toCatalogueError(err("locked", { code: "SQLITE_BUSY" })) instanceof DatabaseBusyError);
  t.ok(toCatalogueError(err("database or disk is full", { code: "SQLITE_FULL" })) instanceof DatabaseUnavailableError, "a refused write is a 503 DATABASE_UNAVAILABLE");
  const bug = new TypeError("x");
  t.equal(toCatalogueError(bug), bug);
  const unique = toCatalogueError(adapterError("UniqueConstraintViolation", { constraint: { fields: ["name"] } })) as UniqueViolation;
  t.ok(unique instanceof UniqueViolationError);
  t.same(unique.fields, ["name"]);
  t.ok(isUniqueViolation(unique, "name"));
  t.notOk(isUniqueViolation(unique, "id"), "a violation of another constraint is not this one");
});

t.test("translated repositories throw catalogue errors, sync and async alike", async (t) => {
  const repo = translated({
    async down() {
      throw err("connect ECONNREFUSED", { code: "ECONNREFUSED" });
    },
    busy() {
      throw err("locked", { code: "SQLITE_BUSY" });
    },
    value: () => 42,
  });
  await t.rejects(repo.down(), DatabaseUnavailableError);
  t.throws(() => repo.busy(), DatabaseBusyError);
  t.equal(repo.value(), 42);
});

void eachProvider(t, "a unique violation leaves the store as UniqueViolationError naming its columns", async (t, provider) => {
  const url = await freshDatabase(t, provider);
  await migrate(url);
  const store = await createStore(url);
  t.teardown(() => store.close());
  await store.channels.create({ id: "a", name: "x", description: "", defaultValues: {} });
  const byName = await store.channels.create({ id: "b", name: "x", description: "", defaultValues: {} }).catch((e: unknown) => e);
  t.ok(isUniqueViolation(byName, "name"), "the name");
  t.equal((byName as UniqueViolation).model, "Channel");
  const inTx = await store.transaction((repos) => repos.channels.create({ id: "a", name: "y", description: "", defaultValues: {} })).catch((e: unknown) => e);
  t.ok(isUniqueViolation(inTx, "id"), "the id, from inside a transaction");
});
