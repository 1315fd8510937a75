// The deployment files (Dockerfile, docker-compose.yml, deploy/nginx,
// deploy/helm) cannot be built or rendered here (no Docker daemon, no helm),
// so these tests read them and check the structure that matters: what
// starts, in which order, as which user, probed on which endpoint, and that
// every environment variable they set is one src/config.ts reads.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import YAML from "yaml";
import { MAX_HEADER_BYTES } from "../../src/app.js";
import { configSchema } from "../../src/config.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const read = (rel: string): string => readFileSync(join(root, rel), "utf8");
const CONFIG_KEYS = new Set(Object.keys(configSchema.shape));

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
/** Child object of `o` at `key`, or an empty object (the assertions then fail by name). */
const obj = (o: unknown, key: string): Obj => (isObj(o) && isObj(o[key]) ? (o[key] as Obj) : {});

/** A compose duration ("30s", "1m30s", "500ms") in milliseconds. */
function durationMs(v: unknown): number {
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001 };
  let total = 0;
  for (const [, n, u] of String(v).matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) total += Number(n) * (units[u ?? ""] ?? NaN);
  return total;
}

// ---------------------------------------------------------------- compose --

const compose: Obj = YAML.parse(read("docker-compose.yml"), { merge: true });
const services = obj(compose, "services");
const REPLICAS = ["chartroom-a", "chartroom-b"];

/** A service's environment as a map, from either the map or the list form. */
function envOf(service: Obj): Record<string, string> {
  const env = service.environment;
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((e) => String(e)).map((e) => [e.split("=")[0] ?? "", e.slice(e.indexOf("=") + 1)]));
  }
  return isObj(env) ? Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v ?? "")])) : {};
}

/** `depends_on` as {service: condition}; the short list form means service_started. */
function dependsOn(service: Obj): Record<string, string> {
  const d = service.depends_on;
  if (Array.isArray(d)) return Object.fromEntries(d.map((s) => [String(s), "service_started"]));
  return isObj(d) ? Object.fromEntries(Object.entries(d).map(([k, v]) => [k, isObj(v) ? String(v.condition ?? "service_started") : "service_started"])) : {};
}

const healthTest = (service: Obj): string => {
  const test = obj(service, "healthcheck").test;
  return Array.isArray(test) ? test.join(" ") : String(test ?? "");
};

t.test("docker-compose.yml: services and start order", async (t) => {
  t.same(Object.keys(services).sort(), ["chartroom-a", "chartroom-b", "nginx", "postgres", "redis"], "the five services");

  const pg = obj(services, "postgres");
  t.match(String(pg.image), /^postgres:16(\b|[.-])/, "PostgreSQL 16");
  t.match(healthTest(pg), /pg_isready/, "postgres healthcheck runs pg_isready");
  const pgVolumes = (Array.isArray(pg.volumes) ? pg.volumes : []).map(String);
  const named = pgVolumes.map((v) => v.split(":")[0] ?? "").filter((src) => !src.startsWith(".") && !src.startsWith("/"));
  t.ok(named.length === 1, "postgres keeps its data in one named volume");
  t.ok(named[0] !== undefined && named[0] in obj(compose, "volumes"), "that volume is declared at the top level");
  t.ok(pgVolumes.some((v) => v.endsWith(":/var/lib/postgresql/data")), "mounted at PostgreSQL's data directory");

  const redis = obj(services, "redis");
  t.match(String(redis.image), /^redis:/, "Redis image");
  t.match(healthTest(redis), /redis-cli ping/, "redis healthcheck");

  for (const name of REPLICAS) {
    const s = obj(services, name);
    t.equal(obj(s, "build").dockerfile, "Dockerfile", `${name} builds from the Dockerfile`);
    t.equal(obj(s, "build").context, ".", `${name} builds from the repository root`);
    const deps = dependsOn(s);
    t.equal(deps.postgres, "service_healthy", `${name} waits for a healthy postgres`);
    t.equal(deps.redis, "service_healthy", `${name} waits for a healthy redis`);
    t.match(healthTest(s), /\/readyz\b/, `${name} healthcheck is /readyz`);
    t.notMatch(healthTest(s), /\bcurl\b/, `${name} healthcheck does not need curl (absent from the slim image)`);
  }

  const nginx = obj(services, "nginx");
  const nginxDeps = dependsOn(nginx);
  for (const name of REPLICAS) t.equal(nginxDeps[name], "service_healthy", `nginx waits for a healthy ${name}`);
  const ports = (Array.isArray(nginx.ports) ? nginx.ports : []).map(String);
  t.ok(ports.some((p) => /:8080$/.test(p)), "nginx publishes its port 8080");
  const published = REPLICAS.filter((n) => obj(services, n).ports !== undefined);
  t.same(published, [], "the replicas are reached through nginx only");
  const mounts = (Array.isArray(nginx.volumes) ? nginx.volumes : []).map(String);
  t.ok(mounts.includes("./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro"), "nginx.conf mounted read-only");
});

t.test("docker-compose.yml: replica configuration", async (t) => {
  for (const name of REPLICAS) {
    const s = obj(services, name);
    const env = envOf(s);
    t.equal(env.DATABASE_URL, "postgresql://chartroom:chartroom@postgres:5432/chartroom", `${name} DATABASE_URL`);
    t.equal(env.REDIS_URL, "redis://redis:6379", `${name} REDIS_URL`);
    t.match(env.ADMIN_JWT_SECRET ?? "", /^\$\{ADMIN_JWT_SECRET:\?.+\}$/, `${name} ADMIN_JWT_SECRET comes from .env and is required`);

    const unknown = Object.keys(env).filter((k) => !CONFIG_KEYS.has(k));
    t.same(unknown, [], `${name} sets only variables src/config.ts knows`);

    const keyMount = (Array.isArray(s.volumes) ? s.volumes : []).map(String).find((v) => v.startsWith("./deploy/keys:"));
    t.ok(keyMount?.endsWith(":ro"), `${name} mounts ./deploy/keys read-only`);
    const target = keyMount?.split(":")[1] ?? "<no key mount>";
    for (const v of ["LICENSE_JWKS_FILE", "LICENSE_SIGNING_KEY_FILE", "SPEC_SIGNING_KEY_FILE"]) {
      t.ok((env[v] ?? "").startsWith(`${target}/`), `${name} ${v} points into the key mount`);
    }

    const shutdownMs = Number(env.SHUTDOWN_TIMEOUT_MS ?? configSchema.shape.SHUTDOWN_TIMEOUT_MS.parse(undefined));
    t.ok(durationMs(s.stop_grace_period) > shutdownMs, `${name} stop_grace_period outlasts SHUTDOWN_TIMEOUT_MS`);
  }
  t.same(envOf(obj(services, "chartroom-a")), envOf(obj(services, "chartroom-b")), "both replicas are configured alike");
});

/** A compose value with its ${VAR:-default} interpolations resolved to their defaults. */
const composeDefault = (v: string | undefined): string => (v ?? "").replace(/\$\{\w+:-([^}]*)\}/g, "$1");
/** TRUST_PROXY as src/config.ts reads it (throws on a value it refuses). */
const trustProxy = (v: string) => configSchema.shape.TRUST_PROXY.parse(v);

t.test("docker-compose.yml and nginx: the replicas trust exactly the one nginx hop (issue 13)", async (t) => {
  for (const name of REPLICAS) {
    const value = composeDefault(envOf(obj(services, name)).TRUST_PROXY);
    t.equal(trustProxy(value), 1, `${name} TRUST_PROXY defaults to 1 (got ${JSON.stringify(value)})`);
  }
  t.same(REPLICAS.filter((n) => obj(services, n).ports !== undefined), [], "a hop count is safe only because nothing reaches the replicas but nginx");
  const conf = read("deploy/nginx/nginx.conf").replace(/#.*$/gm, "");
  // nginx adds the address it saw as the last entry, the one TRUST_PROXY=1 believes.
  t.match(conf, /proxy_set_header\s+X-Forwarded-For\s+\$(proxy_add_x_forwarded_for|remote_addr)\s*;/, "nginx puts the client's address last in X-Forwarded-For");
  const example = read("deploy/env.example");
  t.match(example, /^TRUST_PROXY=1$/m, "deploy/env.example documents the default");
  t.throws(() => trustProxy("true"), "and the server refuses the old trust-every-hop value");
});

t.test("deploy/env.example documents the .env compose reads", async (t) => {
  const example = read("deploy/env.example");
  const interpolated = new Set([...read("docker-compose.yml").matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
  t.ok(interpolated.has("ADMIN_JWT_SECRET"), "compose interpolates ADMIN_JWT_SECRET");
  for (const v of interpolated) t.match(example, new RegExp(`^${v}=`, "m"), `${v} is in deploy/env.example`);
  t.ok(existsSync(join(root, "deploy/keys/.gitignore")), "deploy/keys ignores key material");
});

// ------------------------------------------------------------------ nginx --

t.test("deploy/nginx/nginx.conf balances both replicas", async (t) => {
  const conf = read("deploy/nginx/nginx.conf").replace(/#.*$/gm, "");
  const upstream = /upstream\s+([\w-]+)\s*\{([^}]*)\}/.exec(conf);
  t.ok(upstream, "an upstream block");
  const servers = [...(upstream?.[2] ?? "").matchAll(/^\s*server\s+([^\s;]+)/gm)].map((m) => m[1]);
  t.same(servers, ["chartroom-a:8080", "chartroom-b:8080"], "the upstream lists both replicas on 8080");
  t.match(conf, new RegExp(`proxy_pass\\s+http://${upstream?.[1] ?? "<none>"}\\s*;`), "proxy_pass targets that upstream");
  t.match(conf, /^\s*listen\s+8080\s*;/m, "nginx listens on 8080");
  t.match(conf, /proxy_set_header\s+X-Request-Id\s+\$request_id\s*;/, "X-Request-Id set from $request_id");
  t.match(conf, /proxy_set_header\s+Authorization\s+\$http_authorization\s*;/, "Authorization passed on");
  for (const d of ["proxy_connect_timeout", "proxy_send_timeout", "proxy_read_timeout"]) {
    t.match(conf, new RegExp(`${d}\\s+\\d+s\\s*;`), `${d} set`);
  }
  t.notMatch(conf, /^\s*gzip\s+on/m, "no gzip (it would weaken the operator ETag)");
  t.notMatch(conf, /proxy_cache\s/, "no response cache in front of the operator endpoint");
  t.match(conf, /proxy_set_header\s+Connection\s+""\s*;/, "keep-alive to the upstream (HTTP/1.1, no Connection: close)");
  const buffers = /large_client_header_buffers\s+(\d+)\s+(\d+)k\s*;/.exec(conf);
  t.ok(buffers && Number(buffers[2]) * 1024 >= MAX_HEADER_BYTES, `header lines up to Chartroom's ${MAX_HEADER_BYTES / 1024} KiB pass nginx (an oversized license gets Chartroom's 401, not nginx's 400)`);
});

// ------------------------------------------------------------- Dockerfile --

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, line continuations joined, comments dropped. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let buf = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (/^\s*#/.test(line)) continue; // comments, also inside a continued instruction
    buf += (buf ? " " : "") + line.replace(/\\$/, "").trim();
    if (line.endsWith("\\")) continue;
    const m = /^(\w+)\s*(.*)$/.exec(buf.trim());
    if (m) out.push({ op: (m[1] ?? "").toUpperCase(), args: m[2] ?? "" });
    buf = "";
  }
  return out;
}

const docker = parseDockerfile(read("Dockerfile"));
const argDefaults = Object.fromEntries(
  docker.filter((i) => i.op === "ARG").map((i) => [i.args.split("=")[0] ?? "", i.args.split("=").slice(1).join("=")]),
);
const expand = (s: string): string => s.replace(/\$\{?(\w+)\}?/g, (_m, v: string) => argDefaults[v] ?? `$${v}`);
/** The instructions of each stage, keyed by position. */
const stages: Instruction[][] = [];
for (const i of docker) {
  if (i.op === "FROM") stages.push([]);
  stages.at(-1)?.push(i);
}
const finalStage = stages.at(-1) ?? [];
const inFinal = (op: string): Instruction[] => finalStage.filter((i) => i.op === op);

t.test("Dockerfile: multi-stage node:20-bookworm-slim build", async (t) => {
  const froms = docker.filter((i) => i.op === "FROM").map((i) => expand(i.args));
  t.ok(froms.length >= 2, "multi-stage (two FROM or more)");
  for (const f of froms) t.match(f, /^node:20-bookworm-slim\b/, `stage base ${f}`);
  const buildName = /\bAS\s+(\S+)/i.exec(froms[0] ?? "")?.[1];
  t.ok(buildName, "the build stage is named");

  const buildRuns = (stages[0] ?? []).filter((i) => i.op === "RUN").map((i) => i.args).join("\n");
  t.match(buildRuns, /python3/, "build stage installs python3 for node-gyp");
  t.match(buildRuns, /\bg\+\+/, "and g++");
  t.match(buildRuns, /npm ci\b/, "npm ci from the lockfile");
  t.match(buildRuns, /scripts\/prepare\.mjs|npm ci(?![^\n]*--ignore-scripts)/, "prepare.mjs runs (Prisma clients + dist)");
  t.match(buildRuns, /npm prune --omit=dev/, "dev dependencies pruned");

  const copied = inFinal("COPY").filter((i) => i.args.includes(`--from=${buildName ?? "<none>"}`)).map((i) => i.args);
  for (const path of ["dist", "prisma", "channels", "node_modules", "bin", "package.json"]) {
    t.ok(copied.some((a) => new RegExp(`/app/${path.replace(".", "\\.")}\\s`).test(a)), `runtime copies ${path} from the build stage`);
  }
  t.notOk(inFinal("RUN").some((i) => /npm (ci|install)|apt-get install/.test(i.args)), "runtime stage installs nothing");
});

t.test("Dockerfile: runtime stage", async (t) => {
  const user = inFinal("USER").at(-1)?.args.trim() ?? "";
  t.ok(user !== "", "USER set in the final stage");
  t.notMatch(user.split(":")[0] ?? "", /^(root|0)$/, "USER is not root");
  t.match(user, /^\d+(:\d+)?$/, "USER is numeric (Kubernetes runAsNonRoot can verify it)");
  t.equal(user.split(":")[0], "10001", "uid 10001");

  t.equal(inFinal("WORKDIR").at(-1)?.args.trim(), "/app", "WORKDIR /app");
  const env = inFinal("ENV").map((i) => i.args).join(" ");
  const envPairs = Object.fromEntries([...env.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]));
  t.equal(envPairs.NODE_ENV, "production", "NODE_ENV=production");
  t.equal(envPairs.PORT, "8080", "PORT=8080");
  t.equal(envPairs.DATA_DIR, "/app/data", "DATA_DIR=/app/data");
  t.same(
    Object.keys(envPairs).filter((k) => k !== "NODE_ENV" && k !== "MALLOC_ARENA_MAX" && !CONFIG_KEYS.has(k)),
    [],
    "runtime ENV sets only variables src/config.ts knows (and NODE_ENV, MALLOC_ARENA_MAX from npm start)",
  );

  t.match(inFinal("VOLUME").map((i) => i.args).join(" "), /\/app\/data/, "DATA_DIR is a volume");
  t.match(inFinal("RUN").map((i) => i.args).join(" "), /chown\s+10001(:10001)?\s+\/app\/data/, "DATA_DIR owned by the runtime user");
  t.match(inFinal("EXPOSE").map((i) => i.args).join(" "), /\b8080\b/, "EXPOSE 8080");
  t.equal(inFinal("STOPSIGNAL").at(-1)?.args.trim(), "SIGTERM", "STOPSIGNAL SIGTERM");

  const health = inFinal("HEALTHCHECK").at(-1)?.args ?? "";
  t.match(health, /\bCMD\b/, "HEALTHCHECK runs a command");
  t.match(health, /\/healthz/, "HEALTHCHECK probes /healthz");
  t.match(health, /"node"/, "HEALTHCHECK uses node (no curl in the slim image)");

  const cmd = inFinal("CMD").at(-1)?.args ?? "";
  let argv: unknown;
  try {
    argv = JSON.parse(cmd);
  } catch {
    argv = cmd;
  }
  // The image starts the server exactly as `npm start` does: its environment
  // settings (NAME=value before node) in ENV, its node flags in CMD.
  const start = (JSON.parse(read("package.json")) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  const node = start.indexOf("node");
  t.equal(start.at(-1), "dist/server.js", "npm start runs dist/server.js");
  t.same(argv, start.slice(node), `CMD ${JSON.stringify(start.slice(node))} (exec form), as npm start`);
  for (const setting of start.slice(0, node)) {
    const [name, value] = setting.split("=");
    t.match(env, new RegExp(`\\b${name}=${value}\\b`), `ENV ${setting}, as npm start`);
  }
});

t.test(".dockerignore keeps local state and secrets out of the build", async (t) => {
  const lines = new Set(read(".dockerignore").split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#")));
  for (const p of ["node_modules", "dist", "data", ".git", "coverage", ".tap", "scratch", ".env", "deploy/keys", "src/generated"]) {
    t.ok(lines.has(p), `${p} ignored`);
  }
  for (const p of ["src", "prisma", "scripts", "channels", "bin", "package.json", "package-lock.json", "tsconfig.json"]) {
    t.notOk(lines.has(p) || lines.has(`${p}/`), `${p} reaches the build`);
  }
});

// ------------------------------------------------------------------- Helm --

const chartDir = "deploy/helm/chartroom";
const chart: Obj = YAML.parse(read(`${chartDir}/Chart.yaml`));
const values: Obj = YAML.parse(read(`${chartDir}/values.yaml`));
const templates = Object.fromEntries(
  readdirSync(join(root, chartDir, "templates")).map((f) => [f, read(`${chartDir}/templates/${f}`)]),
);
const deployment = templates["deployment.yaml"] ?? "";

/** The lines indented under the first line that is exactly `head` (its YAML block). */
function block(text: string, head: string): string {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === head);
  if (start < 0) return "";
  const indent = (lines[start] ?? "").search(/\S/);
  const body: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() !== "" && l.search(/\S/) <= indent) break;
    body.push(l);
  }
  return body.join("\n");
}

t.test("Helm Chart.yaml and values.yaml", async (t) => {
  t.equal(chart.apiVersion, "v2", "Chart apiVersion v2");
  t.equal(chart.name, "chartroom", "chart name");
  t.match(String(chart.version), /^\d+\.\d+\.\d+/, "chart version is semver");
  t.equal(chart.appVersion, JSON.parse(read("package.json")).version, "appVersion is the package version");

  t.equal(values.replicaCount, 2, "two replicas");
  t.type(obj(values, "image").repository, "string", "image.repository");
  t.ok(obj(values, "database").existingSecret, "DATABASE_URL comes from an existing Secret");
  t.equal(obj(values, "database").key, "DATABASE_URL", "under the key DATABASE_URL");
  t.ok(obj(values, "license").existingSecret, "license keys come from an existing Secret");
  t.ok(obj(values, "admin").existingSecret, "admin keys come from an existing Secret");
  t.ok(obj(obj(values, "resources"), "requests").memory, "memory request");
  t.ok(obj(obj(values, "resources"), "limits").memory, "memory limit");

  const pdb = obj(values, "podDisruptionBudget");
  t.equal(pdb.enabled, true, "PDB on");
  t.equal(pdb.minAvailable, 1, "PDB minAvailable 1");
  t.ok(Number(values.replicaCount) > Number(pdb.minAvailable), "replicas exceed minAvailable, so drains can proceed");

  const podSec = obj(values, "podSecurityContext");
  t.equal(podSec.runAsNonRoot, true, "runAsNonRoot");
  t.equal(String(podSec.runAsUser), (inFinal("USER").at(-1)?.args.trim() ?? "").split(":")[0], "runAsUser is the image's USER");
  t.equal(obj(values, "securityContext").readOnlyRootFilesystem, true, "readOnlyRootFilesystem");
  t.equal(values.terminationGracePeriodSeconds, 30, "terminationGracePeriodSeconds 30");
  const shutdownS = Number(obj(values, "config").shutdownTimeoutMs) / 1000;
  t.ok(Number(values.terminationGracePeriodSeconds) > shutdownS + Number(values.preStopSleepSeconds), "grace period outlasts preStop + SHUTDOWN_TIMEOUT_MS");
});

t.test("Helm templates", async (t) => {
  for (const f of ["_helpers.tpl", "deployment.yaml", "service.yaml", "pdb.yaml", "NOTES.txt"]) {
    t.ok(f in templates, `templates/${f}`);
  }

  t.match(block(deployment, "livenessProbe:"), /path:\s*\/healthz\b/, "liveness probe on /healthz");
  t.match(block(deployment, "readinessProbe:"), /path:\s*\/readyz\b/, "readiness probe on /readyz");
  t.match(block(deployment, "startupProbe:"), /path:\s*\/(healthz|readyz)\b/, "startup probe");
  t.match(deployment, /terminationGracePeriodSeconds:\s*\{\{\s*\.Values\.terminationGracePeriodSeconds\s*\}\}/, "grace period from values");
  t.match(deployment, /^\s+securityContext:\s*\n\s*\{\{-?\s*toYaml \.Values\.podSecurityContext\b/m, "pod securityContext from values");
  t.match(deployment, /^\s+securityContext:\s*\n\s*\{\{-?\s*toYaml \.Values\.securityContext\b/m, "container securityContext from values");
  t.match(deployment, /mountPath:\s*\/app\/data\b/, "a volume at /app/data");
  const volumes = block(deployment, "volumes:");
  t.match(block(volumes, "- name: data"), /^\s+emptyDir:/m, "which is an emptyDir");
  t.match(block(volumes, "- name: tmp"), /^\s+emptyDir:/m, "and /tmp too (read-only root filesystem)");
  t.match(block(deployment, "- name: DATABASE_URL"), /secretKeyRef:[\s\S]*\.Values\.database\.existingSecret/, "DATABASE_URL from the Secret");
  t.match(block(volumes, "- name: license-keys"), /^\s+secret:[\s\S]*\.Values\.license\.existingSecret/m, "license keys mounted from the Secret");
  t.match(block(block(deployment, "volumeMounts:"), "- name: license-keys"), /readOnly:\s*true/, "read-only");

  const envNames = [...deployment.matchAll(/^\s*- name: ([A-Z][A-Z0-9_]*)\s*$/gm)].map((m) => m[1] ?? "");
  t.ok(envNames.length > 5, "the deployment sets environment variables");
  t.same(envNames.filter((n) => !CONFIG_KEYS.has(n)), [], "only variables src/config.ts knows");

  t.match(block(deployment, "- name: TRUST_PROXY"), /value:\s*\{\{\s*\.Values\.trustProxy\s*\|\s*toString\s*\|\s*quote\s*\}\}/, "TRUST_PROXY from values.trustProxy, always set");
  t.equal(trustProxy(String(values.trustProxy)), 1, "values.trustProxy: one ingress controller in front by default");
  t.match(templates["_helpers.tpl"] ?? "", /eq \(lower \(toString \.Values\.trustProxy\)\) "true"[\s\S]*?fail "trustProxy: /, "helm refuses trustProxy: true at install");

  t.match(templates["pdb.yaml"] ?? "", /apiVersion:\s*policy\/v1\b[\s\S]*minAvailable:\s*\{\{\s*\.Values\.podDisruptionBudget\.minAvailable/, "PDB policy/v1 with minAvailable from values");
  t.match(templates["service.yaml"] ?? "", /targetPort:\s*http\b/, "Service targets the named container port");
});

t.test("Helm templates: structure a render would check", async (t) => {
  for (const [file, text] of Object.entries(templates)) {
    const actions = [...text.matchAll(/\{\{-?\s*(\/\*[\s\S]*?\*\/|[^}]*?)\s*-?\}\}/g)].map((m) => (m[1] ?? "").trim());
    const opened = actions.filter((a) => /^(if|with|range|define|block)\b/.test(a)).length;
    const closed = actions.filter((a) => /^end\b/.test(a)).length;
    t.equal(opened, closed, `${file}: every if/with/range/define has its end`);
    t.equal((text.match(/\{\{/g) ?? []).length, (text.match(/\}\}/g) ?? []).length, `${file}: balanced braces`);

    // Every .Values path a template reads exists in values.yaml.
    for (const [, path] of text.matchAll(/\.Values\.([\w.]+)/g)) {
      let node: unknown = values;
      for (const part of (path ?? "").split(".")) node = isObj(node) ? node[part] : undefined;
      t.not(node, undefined, `${file}: .Values.${path} is defined in values.yaml`);
    }
    for (const [, name] of text.matchAll(/include\s+"([\w.-]+)"/g)) {
      t.match(templates["_helpers.tpl"] ?? "", new RegExp(`define\\s+"${(name ?? "").replace(/\./g, "\\.")}"`), `${file}: ${name} is defined`);
    }
  }
});
