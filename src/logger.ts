// pino options: JSON lines, pretty on a terminal, and secrets never logged.
import type { FastifyServerOptions } from "fastify";
import type { Config } from "./config.js";

/** Paths pino blanks out wherever they appear in a log object. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  "headers.authorization",
  "authorization",
  "token",
  "*.token",
  "license",
  "*.license",
  "password",
  "*.password",
  "secret",
  "*.secret",
  "accessKey",
  "*.accessKey",
  "secretKey",
  "*.secretKey",
];

export function loggerOptions(config: Pick<Config, "LOG_LEVEL">, opts: { pretty?: boolean } = {}): FastifyServerOptions["logger"] {
  return {
    level: config.LOG_LEVEL,
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    ...(opts.pretty ? { transport: { target: "pino-pretty", options: { translateTime: "SYS:HH:MM:ss.l", ignore: "pid,hostname" } } } : {}),
  };
}
