// How long Chartroom waits for its database, in one place (issue 13;
// docs/decisions.md). A database that answers slowly or not at all (a hung
// server, a black-holed network path, a full disk) must never hold a
// request for longer than these: the request gets 503 DATABASE_UNAVAILABLE
// with Retry-After instead, and the next request tries again. The
// rate-limit store (Redis) has its own, shorter budget because it fails
// open (REDIS_COMMAND_TIMEOUT_MS in src/services/rate-limits.ts).
export const DATABASE_TIMEOUTS = {
  /** Opening a PostgreSQL connection (pg's connectionTimeoutMillis). */
  connectMs: 5000,
  /**
   * One statement, as PostgreSQL enforces it (statement_timeout): a slow
   * query is cancelled by the server with 57014.
   */
  statementMs: 5000,
  /**
   * One statement, as the client enforces it (pg's query_timeout): a server
   * that does not answer at all. Longer than statementMs, so a live server
   * cancels first with its own error.
   */
  queryMs: 6000,
  /** Waiting for a transaction to start (Prisma's maxWait: a pool connection). */
  transactionMaxWaitMs: 10_000,
  /** One whole transaction (Prisma's timeout): rolled back when it runs longer. */
  transactionMs: 15_000,
  /** SQLite: waiting for another process's write lock (better-sqlite3's busy timeout). */
  sqliteBusyMs: 5000,
} as const;
