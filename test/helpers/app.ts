// Builds a Chartroom app for a test: a fresh database (SQLite or
// PostgreSQL), migrations applied, optional sample channels, test keys, and
// helpers to mint admin tokens and licenses. Closed in teardown.
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { cpSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import pino from "pino";
import type { Test } from "tap";
import { buildApp } from "../../src/app.js";
import { loadConfig } from "../../src/config.js";
import { createContext, type Context } from "../../src/context.js";
import { migrate } from "../../src/db/migrate.js";
import { mintAdminToken } from "../../src/admin/admin-token.js";
import type { Role } from "../../src/admin/roles.js";
import { signLicense } from "../../src/licensing/issue-license.js";
import { freshDatabase, tempDir, type Provider } from "./db.js";

export const ADMIN_SECRET = "test-admin-secret-that-is-long-enough-0123456789";
export const CHANNELS_DIR = join(import.meta.dirname, "..", "..", "channels");

export interface TestApp {
  app: FastifyInstance;
  ctx: Context;
  url: string;
  dataDir: string;
  /** Captured log lines (JSON strings), when `captureLogs` is set. */
  logs: string[];
  adminToken(role?: Role, sub?: string): string;
  license(claims?: Partial<{ sub: string; channel: string; jti: string; exp: number }>): string;
  admin(method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE", path: string, body?: unknown, role?: Role): Promise<LightMyRequestResponse>;
  poll(token: string, path?: string, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
}

export interface TestAppOptions {
  provider?: Provider;
  /** Load channels/ like a first boot (default true). */
  seed?: boolean;
  /**
   * Seed the sample channels with their policies (unstable → beta → stable,
   * channels/*.yaml). Default false: most tests are about something else and
   * promote straight to any channel, as before policies (docs/decisions.md).
   */
  samplePolicies?: boolean;
  env?: Record<string, string>;
  captureLogs?: boolean;
  /** Reuse a database (several app instances on one database). */
  databaseUrl?: string;
}

/** A copy of channels/ with no channel's `policy:` block. */
export function withoutPolicies(dir: string): string {
  const out = join(dir, "channels-without-policies");
  cpSync(CHANNELS_DIR, out, { recursive: true });
  for (const name of readdirSync(out).filter((n) => n.endsWith(".yaml"))) {
    const file = join(out, name);
    writeFileSync(file, readFileSync(file, "utf8").replace(/^policy:\n(?:[ #].*\n)*/m, ""));
  }
  return out;
}

export async function testApp(t: Test, opts: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = tempDir(t);
  const url = opts.databaseUrl ?? (await freshDatabase(t, opts.provider ?? "sqlite"));
  const keyFile = join(dataDir, "license-key.pem");
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  writeFileSync(keyFile, privateKey.export({ type: "pkcs8", format: "pem" }));
  const config = loadConfig({
    DATABASE_URL: url,
    DATA_DIR: dataDir,
    LOG_LEVEL: opts.captureLogs ? "trace" : "silent",
    ADMIN_JWT_SECRET: ADMIN_SECRET,
    LICENSE_SIGNING_KEY_FILE: keyFile,
    CHANNELS_DIR,
    ...opts.env,
  });
  const logs: string[] = [];
  const log = pino(
    { level: config.LOG_LEVEL, redact: { paths: (await import("../../src/logger.js")).REDACT_PATHS, censor: "[redacted]" } },
    { write: (line: string) => void logs.push(line) },
  );
  await migrate(url);
  const ctx = await createContext(config, log);
  if (opts.seed !== false) await ctx.declarative.apply(opts.samplePolicies ? CHANNELS_DIR : withoutPolicies(dataDir), { sub: "test:seed" });
  await ctx.start();
  const app = await buildApp({ ctx, loggerInstance: log });
  t.teardown(async () => {
    await app.close();
    await ctx.stop();
  });

  const helpers: TestApp = {
    app,
    ctx,
    url,
    dataDir,
    logs,
    adminToken(role: Role = "admin", sub = `${role}@example.com`) {
      return mintAdminToken(ADMIN_SECRET, { sub, roles: [role], ttlSec: 600, audience: config.ADMIN_AUDIENCE });
    },
    license(claims = {}) {
      if (!ctx.signingKey) throw new Error("no signing key");
      return signLicense(ctx.signingKey, {
        sub: claims.sub ?? "customer-1",
        channel: claims.channel ?? "stable",
        jti: claims.jti ?? randomUUID(),
        exp: claims.exp ?? Math.floor(Date.now() / 1000) + 3600,
      });
    },
    admin(method, path, body, role = "admin") {
      return app.inject({
        method,
        url: `/api/v1/admin${path}`,
        headers: { authorization: `Bearer ${helpers.adminToken(role)}` },
        ...(body !== undefined ? { payload: body as object } : {}),
      });
    },
    poll(token, path = "/api/v1/operator/channel", headers = {}) {
      return app.inject({
        method: "GET",
        url: path,
        headers: {
          authorization: `Basic ${Buffer.from(`license:${token}`).toString("base64")}`,
          "content-type": "application/json",
          "user-agent": "Go-http-client/1.1",
          ...headers,
        },
      });
    },
  };
  return helpers;
}
