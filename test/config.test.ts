import t from "tap";
import { ConfigError, loadConfig } from "../src/config.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

t.test("defaults: the embedded SQLite, port 8080, stable, development keys", async (t) => {
  const c = loadConfig({});
  t.equal(c.PORT, 8080);
  t.equal(c.HOST, "127.0.0.1", "development keys: loopback only");
  t.equal(c.hostDefaulted, true);
  t.equal(c.DATABASE_URL, "file:./data/chartroom.db");
  t.equal(c.databaseProvider, "sqlite");
  t.equal(c.CHANNELS_DIR, "./channels");
  t.equal(c.LOG_LEVEL, "info");
  t.equal(c.LICENSE_DEFAULT_CHANNEL, "stable");
  t.equal(c.devKeys, true);
});

t.test("configured keys turn development keys off", async (t) => {
  t.equal(loadConfig({ ADMIN_JWT_SECRET: "x".repeat(32) }).devKeys, false);
  t.equal(loadConfig({ ADMIN_JWT_SECRET: "x".repeat(32) }).HOST, "0.0.0.0", "configured keys: every interface");
  t.equal(loadConfig({ HOST: "0.0.0.0" }).HOST, "0.0.0.0", "HOST set wins over the loopback default");
  t.equal(loadConfig({ HOST: "0.0.0.0" }).hostDefaulted, false);
  t.equal(loadConfig({ HOST: "" }).HOST, "127.0.0.1", "an empty HOST is unset");
  t.equal(loadConfig({ LICENSE_JWKS_FILE: "/keys/jwks.json" }).devKeys, false);
  t.equal(loadConfig({ DATABASE_URL: "postgresql://u@h/db" }).databaseProvider, "postgresql");
});

t.test("ignores unrelated variables and treats empty optional ones as unset", async (t) => {
  const c = loadConfig({ PATH: "/bin", LICENSE_ISSUER: "", HOME: "/root" });
  t.equal(c.LICENSE_ISSUER, undefined);
});

const bad: [string, Record<string, string>, RegExp][] = [
  ["port not a number", { PORT: "eighty" }, /^PORT: .*number/],
  ["port out of range", { PORT: "70000" }, /^PORT: /],
  ["database url scheme", { DATABASE_URL: "mysql://x/y" }, /^DATABASE_URL: must be file:PATH \(SQLite\) or postgresql/],
  ["log level", { LOG_LEVEL: "loud" }, /^LOG_LEVEL: /],
  ["default channel name", { LICENSE_DEFAULT_CHANNEL: "Stable" }, /^LICENSE_DEFAULT_CHANNEL: must be a channel name/],
  ["short admin secret", { ADMIN_JWT_SECRET: "short" }, /^ADMIN_JWT_SECRET: must be at least 32 characters$/],
  ["both admin key kinds", { ADMIN_JWT_SECRET: "x".repeat(40), ADMIN_JWKS_FILE: "/k.json" }, /^ADMIN_JWKS_FILE: set ADMIN_JWT_SECRET or ADMIN_JWKS_FILE, not both/],
  ["body limit", { BODY_LIMIT_BYTES: "10" }, /^BODY_LIMIT_BYTES: /],
  ["trusting every proxy hop", { TRUST_PROXY: "true" }, /^TRUST_PROXY: true \(trust every hop\) is no longer accepted: any client could pick its own address.*X-Forwarded-For\. Set the number of proxies .*\(usually 1\) or their addresses\/CIDRs/],
  ["a trusted proxy that is no address", { TRUST_PROXY: "10.0.0.0/8, nginx" }, /^TRUST_PROXY: must be false, a hop count \(1, 2\) or a comma-separated list of IP addresses and CIDRs; "nginx" is none of these/],
  ["a CIDR prefix out of range", { TRUST_PROXY: "10.0.0.0/33" }, /^TRUST_PROXY: .*"10\.0\.0\.0\/33" is none of these/],
  ["too many hops", { TRUST_PROXY: "11" }, /^TRUST_PROXY: a hop count must be at most 10/],
  ["a plain-HTTP registry given as a URL", { CHART_PLAIN_HTTP_REGISTRIES: "127.0.0.1:5000,http://registry.local" }, /^CHART_PLAIN_HTTP_REGISTRIES: must be a comma-separated list of host\[:port\]/],
  ["a chart bound below 1 KiB", { BUNDLE_MAX_CHART_BYTES: "100" }, /^BUNDLE_MAX_CHART_BYTES: /],
];

t.test("TRUST_PROXY: no proxy, a hop count, or the proxies' addresses and CIDRs", async (t) => {
  for (const off of [undefined, "", "false", "FALSE", "0"]) {
    t.equal(loadConfig(off === undefined ? {} : { TRUST_PROXY: off }).TRUST_PROXY, false, `${JSON.stringify(off)}: no proxy trusted`);
  }
  t.equal(loadConfig({ TRUST_PROXY: "1" }).TRUST_PROXY, 1, "1 hop");
  t.equal(loadConfig({ TRUST_PROXY: " 2 " }).TRUST_PROXY, 2, "2 hops");
  t.same(
    loadConfig({ TRUST_PROXY: "10.0.0.0/8, 172.16.0.0/12,127.0.0.1, ::1, fd00::/8, loopback" }).TRUST_PROXY,
    ["10.0.0.0/8", "172.16.0.0/12", "127.0.0.1", "::1", "fd00::/8", "loopback"],
    "a list of addresses, CIDRs and proxy-addr's range names",
  );
});

for (const [name, env, message] of bad) {
  t.test(`bad variable: ${name}`, async (t) => {
    const p = problems(env);
    t.equal(p.length, 1, "exactly one problem");
    t.match(p[0], message);
  });
}

t.test("each bad variable gets its own line; secrets are not echoed", async (t) => {
  const p = problems({ PORT: "x", LOG_LEVEL: "y", ADMIN_JWT_SECRET: "tiny-secret" });
  t.equal(p.length, 3);
  t.ok(p.some((l) => l.startsWith("PORT:") && l.includes('"x"')), "the bad value is shown");
  t.notOk(p.join("\n").includes("tiny-secret"), "the secret is not");
});

t.test("a database password is masked in the message", async (t) => {
  const p = problems({ DATABASE_URL: "mysql://app:hunter2@db/x" });
  t.equal(p.length, 1);
  t.notOk(p[0]!.includes("hunter2"));
  t.match(p[0], /mysql:\/\/app:\*\*\*@db\/x/);
});

t.test(".env.example lists every variable the config knows, and nothing else", async (t) => {
  const { readFileSync } = await import("node:fs");
  const { configSchema } = await import("../src/config.js");
  const text = readFileSync(new URL("../.env.example", import.meta.url), "utf8");
  const listed = new Set([...text.matchAll(/^#?\s*([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]!));
  const known = Object.keys(configSchema.shape);
  t.same(known.filter((k) => !listed.has(k)), [], "every variable documented");
  t.same([...listed].filter((k) => !known.includes(k)), [], "no stale variable");
  t.doesNotThrow(() => loadConfig(Object.fromEntries([...text.matchAll(/^([A-Z][A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]))), "the example itself is valid");
});
