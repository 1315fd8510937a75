#!/usr/bin/env node
// Chartroom's reference reporter (docs/api.md §9): run by a CronJob in the
// customer's cluster next to the W&B operator, it reads the operator's
// WeightsAndBiases resource, turns its status.phase into a report state, finds
// the release the phase is about, and reports it to Chartroom with the license
// the operator polls with. One run, one report, one JSON log line on stdout.
// Node 20's standard library only: it runs from a ConfigMap on node:20-alpine
// (deploy/reporter/kustomization.yaml), no image to build.
//
// What it reads, as the operator writes it (wandb/operator, tag v1.22.0, the
// operator line that polls --deployer-channel-url):
// - the resource: group apps.wandb.com, version v1, plural weightsandbiases,
//   namespaced (wandb/operator:config/crd/bases/apps.wandb.com_weightsandbiases.yaml);
//   status.phase and status.version (wandb/operator:api/v1/weightsandbiases_types.go).
// - status.phase: one of "Loading", "Applying", "Invalid Config", "Completed"
//   (wandb/operator:pkg/wandb/status/status.go), set by the reconciler
//   (wandb/operator:internal/controller/weightsandbiases_controller.go).
// - the release: v1.22.0 never writes status.version. After a successful
//   apply it stores the applied spec in the Secret "<name>-spec-active", and
//   before applying it caches the spec it got from Chartroom in
//   "<name>-latest-cached-release" (wandb/operator:pkg/wandb/spec/state/versioning.go,
//   wandb/operator:pkg/wandb/spec/state/secrets/secrets.go): key "metadata",
//   the JSON of the answer's metadata ({channel, version, releaseId, ...},
//   docs/api.md §1). So: status.version when an operator records it; else,
//   for Completed, the active spec's version (what was applied); for any
//   other phase, the cached spec's version (what the operator is applying or
//   failed to apply), the active one when nothing is cached.
// - the license: the CR's spec.values.global.license, else the Secret named
//   by spec.values.global.licenseSecret {name, key} in the CR's namespace, in
//   that order (wandb/operator:pkg/wandb/spec/utils/license.go); the operator
//   sends it untrimmed, the reporter trims it.
//
// Settings (environment; deploy/reporter/kustomization.yaml sets the first ones):
//   CHARTROOM_URL        the URL of the operator's --deployer-channel-url (required)
//   WANDB_NAME           the resource; empty: the only one in the namespace
//   WANDB_NAMESPACE      its namespace; default the pod's (the service account's)
//   LICENSE_SECRET_NAME, LICENSE_SECRET_KEY
//                        the license Secret when the resource names none
//   ACTIVE_SPEC_SECRET, CACHED_SPEC_SECRET
//                        default "<name>-spec-active", "<name>-latest-cached-release"
//   REQUEST_TIMEOUT_MS   idle timeout of each request (10000)
//   RETRY_DELAY_MS       wait before the one retry (5000)
//   SERVICEACCOUNT_DIR   default /var/run/secrets/kubernetes.io/serviceaccount
//   KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT  set by the kubelet
//
// Exit codes (also in the log line as exitCode):
//   0 reported (Chartroom answered 202)
//   1 configuration: a missing or contradictory setting
//   2 Kubernetes: the resource or a Secret is missing, forbidden, or the API unreachable
//   3 nothing to report yet: the operator has recorded no release
//   4 Chartroom refused the report (4xx: license, unknown release, rate limit)
//   5 Chartroom unreachable or failing (network error or 5xx, after one retry)
import { readFileSync, realpathSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

export const EXIT = { ok: 0, config: 1, kubernetes: 2, nothingToReport: 3, refused: 4, unreachable: 5 };
const GROUP = "apps.wandb.com";
const VERSION = "v1";
const PLURAL = "weightsandbiases";
const MESSAGE_MAX = 1024; // docs/api.md §9
const USER_AGENT = "chartroom-reporter/1";

/** A run that stops: the exit code and what to log. */
class Stop extends Error {
  constructor(exitCode, message, fields = {}) {
    super(message);
    this.exitCode = exitCode;
    this.fields = fields;
  }
}

/**
 * The report state for an operator phase (docs/api.md §9, docs/decisions.md):
 * Completed is healthy, Invalid Config failed, Loading and Applying applying;
 * anything else (no phase, or one this reporter does not know) is degraded,
 * with the phase in the message so a person sees what the operator said.
 */
export function stateOf(phase) {
  switch (phase) {
    case "Completed":
      return { state: "healthy", message: 'status.phase "Completed"' };
    case "Invalid Config":
      return { state: "failed", message: 'status.phase "Invalid Config": the operator could not apply the release' };
    case "Loading":
    case "Applying":
      return { state: "applying", message: `status.phase "${phase}"` };
    case undefined:
    case null:
    case "":
      return { state: "degraded", message: "status.phase is not set" };
    default:
      return { state: "degraded", message: `status.phase ${JSON.stringify(String(phase)).slice(0, 200)} is not one this reporter knows` };
  }
}

/** The settings, from the environment. */
function settingsFrom(env) {
  const saDir = env.SERVICEACCOUNT_DIR || "/var/run/secrets/kubernetes.io/serviceaccount";
  const chartroom = (env.CHARTROOM_URL ?? "").trim();
  if (!chartroom) throw new Stop(EXIT.config, "CHARTROOM_URL is not set (the URL the operator's --deployer-channel-url names)");
  let reportUrl;
  try {
    reportUrl = new URL(`${chartroom.replace(/\/+$/, "")}/api/v1/operator/report`);
  } catch {
    throw new Stop(EXIT.config, "CHARTROOM_URL is not a URL");
  }
  if (reportUrl.protocol !== "https:" && reportUrl.protocol !== "http:") throw new Stop(EXIT.config, "CHARTROOM_URL must be http(s)");
  if (reportUrl.username || reportUrl.password) throw new Stop(EXIT.config, "CHARTROOM_URL must not carry credentials");
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT || "443";
  if (!host) throw new Stop(EXIT.config, "KUBERNETES_SERVICE_HOST is not set (not running in a pod?)");
  const number = (name, fallback) => {
    const v = env[name];
    if (v === undefined || v === "") return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Stop(EXIT.config, `${name} must be a whole number of milliseconds`);
    return n;
  };
  return {
    saDir,
    apiBase: `https://${host.includes(":") ? `[${host}]` : host}:${port}`,
    reportUrl,
    namespace: env.WANDB_NAMESPACE || undefined,
    name: env.WANDB_NAME || undefined,
    licenseSecret: env.LICENSE_SECRET_NAME || undefined,
    licenseKey: env.LICENSE_SECRET_KEY || undefined,
    activeSecret: env.ACTIVE_SPEC_SECRET || undefined,
    cachedSecret: env.CACHED_SPEC_SECRET || undefined,
    timeoutMs: number("REQUEST_TIMEOUT_MS", 10_000),
    retryDelayMs: number("RETRY_DELAY_MS", 5_000),
  };
}

/** One HTTP(S) request; resolves with status and body text, rejects on network errors. */
function request(url, { method = "GET", headers = {}, body, ca, timeoutMs }) {
  return new Promise((resolve, reject) => {
    const lib = url.protocol === "https:" ? https : http;
    const req = lib.request(url, { method, headers, ...(ca ? { ca } : {}), timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

const parseJson = (text) => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/** A read-only client for the API server, with the pod's service account. */
function kubernetesClient(s) {
  let token, ca, podNamespace;
  try {
    token = readFileSync(join(s.saDir, "token"), "utf8").trim();
    ca = readFileSync(join(s.saDir, "ca.crt"));
    podNamespace = readFileSync(join(s.saDir, "namespace"), "utf8").trim();
  } catch (err) {
    throw new Stop(EXIT.kubernetes, `cannot read the service account in ${s.saDir}: ${err.code ?? err.message}`);
  }
  return {
    podNamespace,
    /** GET a path; the parsed object, or undefined on 404. */
    async get(path, what) {
      let res;
      try {
        res = await request(new URL(path, s.apiBase), {
          headers: { authorization: `Bearer ${token}`, accept: "application/json", "user-agent": USER_AGENT },
          ca,
          timeoutMs: s.timeoutMs,
        });
      } catch (err) {
        throw new Stop(EXIT.kubernetes, `Kubernetes API unreachable reading ${what}: ${err.message}`);
      }
      if (res.status === 404) return undefined;
      const body = parseJson(res.text);
      if (res.status !== 200 || body === undefined) {
        // A Kubernetes Status object names the reason (Forbidden, Unauthorized, ...).
        const reason = body?.message ?? `HTTP ${res.status}`;
        const hint = res.status === 403 ? " (the reporter's Role does not grant it: see deploy/reporter/manifests/role.yaml)" : "";
        throw new Stop(EXIT.kubernetes, `cannot read ${what}: ${reason}${hint}`, { kubernetesStatus: res.status });
      }
      return body;
    },
  };
}

const crPath = (ns, name) => `/apis/${GROUP}/${VERSION}/namespaces/${encodeURIComponent(ns)}/${PLURAL}${name ? `/${encodeURIComponent(name)}` : ""}`;
const secretPath = (ns, name) => `/api/v1/namespaces/${encodeURIComponent(ns)}/secrets/${encodeURIComponent(name)}`;

/** The WeightsAndBiases resource: the named one, or the only one in the namespace. */
async function readResource(kube, ns, name) {
  if (name) {
    const cr = await kube.get(crPath(ns, name), `WeightsAndBiases ${ns}/${name}`);
    if (!cr) throw new Stop(EXIT.kubernetes, `WeightsAndBiases ${ns}/${name} not found`);
    return cr;
  }
  const list = await kube.get(crPath(ns), `WeightsAndBiases in namespace ${ns}`);
  const items = Array.isArray(list?.items) ? list.items : [];
  if (items.length === 0) throw new Stop(EXIT.kubernetes, `no WeightsAndBiases in namespace ${ns}`);
  if (items.length > 1) {
    const names = items.map((i) => i?.metadata?.name).join(", ");
    throw new Stop(EXIT.config, `${items.length} WeightsAndBiases in namespace ${ns} (${names}): set WANDB_NAME`);
  }
  return items[0];
}

/** A Secret's key, decoded; undefined when the Secret does not exist. */
async function readSecretKey(kube, ns, secret, key) {
  const obj = await kube.get(secretPath(ns, secret), `Secret ${ns}/${secret}`);
  if (!obj) return undefined;
  const b64 = obj.data?.[key];
  return { found: typeof b64 === "string", value: typeof b64 === "string" ? Buffer.from(b64, "base64").toString("utf8") : "" };
}

/** The release named by an operator spec Secret's "metadata" key, if any. */
async function releaseInSpecSecret(kube, ns, secret) {
  const entry = await readSecretKey(kube, ns, secret, "metadata");
  if (!entry?.found) return undefined;
  const meta = parseJson(entry.value);
  const release = meta?.version || meta?.releaseId;
  return typeof release === "string" && release !== "" ? release : undefined;
}

/** The release the phase is about, and where it was found (see the header comment). */
async function findRelease(kube, s, cr, phase) {
  const ns = cr.metadata.namespace;
  const name = cr.metadata.name;
  const recorded = cr.status?.version;
  if (typeof recorded === "string" && recorded.trim() !== "") return { release: recorded.trim(), releaseFrom: "status.version" };
  const active = s.activeSecret ?? `${name}-spec-active`;
  const cached = s.cachedSecret ?? `${name}-latest-cached-release`;
  const order = phase === "Completed" ? [active] : [cached, active];
  for (const secret of order) {
    const release = await releaseInSpecSecret(kube, ns, secret);
    if (release) return { release, releaseFrom: `Secret ${secret}` };
  }
  throw new Stop(EXIT.nothingToReport, `the operator has recorded no release yet (no status.version, no metadata in Secret ${order.join(" or ")})`);
}

/** The license the operator uses, trimmed (see the header comment). */
async function findLicense(kube, s, cr) {
  const global = cr.spec?.values?.global ?? {};
  const ns = cr.metadata.namespace;
  if (typeof global.license === "string" && global.license.trim() !== "") {
    return { license: global.license.trim(), licenseFrom: "spec.values.global.license" };
  }
  const fromCr = global.licenseSecret ?? {};
  const crName = typeof fromCr.name === "string" && fromCr.name ? fromCr.name : undefined;
  const crKey = typeof fromCr.key === "string" && fromCr.key ? fromCr.key : undefined;
  // The CR says which Secret the operator reads; the settings are for a
  // license the reporter cannot see otherwise (given through the W&B console).
  // Both, and different: the reporter would report as another licensee.
  if (crName && s.licenseSecret && (crName !== s.licenseSecret || (crKey && s.licenseKey && crKey !== s.licenseKey))) {
    throw new Stop(
      EXIT.config,
      `the resource reads the license from Secret ${crName} key ${crKey ?? "?"}, LICENSE_SECRET_NAME/LICENSE_SECRET_KEY say ${s.licenseSecret} key ${s.licenseKey ?? "?"}: make them agree (and the Role's resourceNames)`,
    );
  }
  const secret = crName ?? s.licenseSecret;
  const key = (crName ? crKey : undefined) ?? s.licenseKey;
  if (!secret || !key) {
    throw new Stop(EXIT.config, "no license: the resource has neither spec.values.global.license nor spec.values.global.licenseSecret {name, key}, and LICENSE_SECRET_NAME/LICENSE_SECRET_KEY are not both set");
  }
  const entry = await readSecretKey(kube, ns, secret, key);
  if (!entry) throw new Stop(EXIT.kubernetes, `license Secret ${ns}/${secret} not found`);
  if (!entry.found) throw new Stop(EXIT.kubernetes, `license Secret ${ns}/${secret} has no key ${key}`);
  const license = entry.value.trim();
  if (!license) throw new Stop(EXIT.kubernetes, `license Secret ${ns}/${secret} key ${key} is empty`);
  return { license, licenseFrom: `Secret ${secret} key ${key}` };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** POST the report; one retry on a network error or a 5xx. */
async function sendReport(s, license, body) {
  const payload = JSON.stringify(body);
  const headers = {
    authorization: `Basic ${Buffer.from(`license:${license}`).toString("base64")}`,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(payload),
    accept: "application/json",
    "user-agent": USER_AGENT,
  };
  let last;
  for (let attempt = 1; attempt <= 2; attempt++) {
    if (attempt > 1) await sleep(s.retryDelayMs);
    try {
      const res = await request(s.reportUrl, { method: "POST", headers, body: payload, timeoutMs: s.timeoutMs });
      if (res.status === 202) return { attempts: attempt, chartroomStatus: res.status };
      const err = parseJson(res.text) ?? {};
      const fields = { attempts: attempt, chartroomStatus: res.status, chartroomCode: typeof err.code === "string" ? err.code : undefined };
      const reason = `Chartroom answered ${res.status}${fields.chartroomCode ? ` ${fields.chartroomCode}` : ""}${typeof err.message === "string" ? `: ${err.message}` : ""}`;
      if (res.status < 500) throw new Stop(EXIT.refused, reason, fields);
      last = new Stop(EXIT.unreachable, reason, fields);
    } catch (err) {
      if (err instanceof Stop) {
        if (err.exitCode === EXIT.refused) throw err;
        last = err;
      } else {
        last = new Stop(EXIT.unreachable, `Chartroom unreachable: ${err.message}`, { attempts: attempt });
      }
    }
  }
  throw last;
}

/** One run: read, map, report. Resolves with the log record (never the license). */
export async function run(env = process.env) {
  const record = {};
  const secrets = [];
  try {
    const s = settingsFrom(env);
    record.chartroom = s.reportUrl.origin;
    const kube = kubernetesClient(s);
    const ns = s.namespace ?? kube.podNamespace;
    const cr = await readResource(kube, ns, s.name);
    cr.metadata = { ...cr.metadata, namespace: cr.metadata?.namespace ?? ns };
    record.wandb = `${cr.metadata.namespace}/${cr.metadata.name}`;
    const phase = cr.status?.phase;
    record.phase = phase ?? null;
    const { state, message } = stateOf(phase);
    record.state = state;
    // The license first: a broken license setup shows even before the
    // operator has applied anything.
    const { license, licenseFrom } = await findLicense(kube, s, cr);
    secrets.push(license);
    record.licenseFrom = licenseFrom;
    const { release, releaseFrom } = await findRelease(kube, s, cr, phase);
    Object.assign(record, { release, releaseFrom });
    const sent = await sendReport(s, license, { release, state, message: `WeightsAndBiases ${record.wandb}: ${message}`.slice(0, MESSAGE_MAX) });
    Object.assign(record, sent, { exitCode: EXIT.ok, level: "info", msg: "report sent" });
  } catch (err) {
    const stop = err instanceof Stop ? err : new Stop(EXIT.kubernetes, `unexpected: ${err?.message ?? err}`);
    Object.assign(record, stop.fields, { exitCode: stop.exitCode, level: "error", msg: "report not sent", error: stop.message });
  }
  return { record, secrets };
}

/** The log line: constant fields first; any secret the run held is scrubbed from it. */
export function logLine({ record, secrets }) {
  const { level, msg, ...rest } = record;
  let line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...rest });
  for (const secret of secrets) {
    if (!secret) continue;
    for (const form of [secret, Buffer.from(`license:${secret}`).toString("base64"), JSON.stringify(secret).slice(1, -1)]) {
      line = line.split(form).join("[redacted]");
    }
  }
  return line;
}

// Run when started as a program. A ConfigMap mounts its files as symlinks
// (report.mjs, a link into the ConfigMap's "..data" directory) and Node resolves the main module's
// symlinks, so the comparison is on the real path.
const realArgv1 = () => {
  try {
    return pathToFileURL(realpathSync(process.argv[1] ?? "")).href;
  } catch {
    return "";
  }
};
const started = realArgv1();
if (import.meta.url === started) {
  const result = await run();
  process.stdout.write(`${logLine(result)}\n`);
  process.exitCode = result.record.exitCode;
}
