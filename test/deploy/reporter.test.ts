// The reference reporter (deploy/reporter/report.mjs) run as the CronJob runs
// it: a node process started on a ConfigMap-style symlink, with a service
// account directory, against a stand-in Kubernetes API server over HTTPS
// (a test CA made with openssl) that serves the WeightsAndBiases resource and
// Secrets at their real API paths and enforces the Role the manifests ship
// (deploy/reporter/manifests/role.yaml): a read the Role does not grant is a
// 403, as in a cluster. Chartroom is the real app (test/helpers/app.ts,
// listening on a port) for the states it stores and the refusals it makes
// (401, 403, 404), and a stand-in for what the app cannot be made to do on
// cue (a 5xx, a dropped connection, an answer that echoes the license) and
// to see the exact request (docs/api.md §9: the path, Basic "license:" + JWT
// as the operator polls, the body's shape).
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import t from "tap";
import YAML from "yaml";
import { testApp } from "../helpers/app.js";
import { tempDir } from "../helpers/db.js";

const exec = promisify(execFile);
const root = fileURLToPath(new URL("../../", import.meta.url));
const SCRIPT = join(root, "deploy/reporter/report.mjs");
const NS = "default";
const SA_TOKEN = "sa-token-for-the-test";
const LICENSE = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJjdXN0b21lci0xIn0.bGljZW5zZS1zaWduYXR1cmU";

type Obj = Record<string, unknown>;
interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
  resourceNames?: string[];
}
const role = YAML.parse(readFileSync(join(root, "deploy/reporter/manifests/role.yaml"), "utf8")) as { rules: Rule[] };

// ------------------------------------------------------------ fixtures --

/** A test CA and a server certificate for 127.0.0.1 it signed (openssl). */
async function testPki(dir: string): Promise<{ ca: string; key: string; cert: string }> {
  const p = (f: string) => join(dir, f);
  const run = (...args: string[]) => exec("openssl", args);
  await run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "1", "-subj", "/CN=test-cluster-ca");
  await run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=kubernetes");
  writeFileSync(p("ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:kubernetes.default.svc\n");
  await run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial", "-out", p("server.crt"), "-days", "1", "-extfile", p("ext.cnf"));
  return { ca: readFileSync(p("ca.crt"), "utf8"), key: readFileSync(p("server.key"), "utf8"), cert: readFileSync(p("server.crt"), "utf8") };
}

interface Cluster {
  wandbs: Obj[];
  /** Secret name → key → value (stored base64 like the API server). */
  secrets: Record<string, Record<string, string>>;
  /** "verb resource/name" for each request, in order. */
  reads: string[];
}

const status = (code: number, reason: string, message: string) => ({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code });

/** Whether the shipped Role grants a verb on a resource (and name) of a group. */
function granted(group: string, resource: string, verb: string, name: string | undefined): boolean {
  return role.rules.some(
    (r) => r.apiGroups.includes(group) && r.resources.includes(resource) && r.verbs.includes(verb) && (r.resourceNames === undefined || (name !== undefined && r.resourceNames.includes(name))),
  );
}

/** The stand-in API server: the two paths the reporter reads, the Role enforced. */
function kubernetesApi(cluster: Cluster) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${SA_TOKEN}`) return send(401, status(401, "Unauthorized", "Unauthorized"));
    const url = new URL(req.url ?? "/", "https://kubernetes");
    const m = /^\/(?:api\/v1|apis\/([^/]+)\/v1)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    if (req.method !== "GET" || !m) return send(404, status(404, "NotFound", "the server could not find the requested resource"));
    const [, group = "", ns, resource = "", rawName] = m;
    const name = rawName === undefined ? undefined : decodeURIComponent(rawName);
    const verb = name === undefined ? "list" : "get";
    cluster.reads.push(`${verb} ${resource}${name ? `/${name}` : ""}`);
    if (ns !== NS || !granted(group, resource, verb, name)) {
      const what = name ? `${resource} "${name}"` : resource;
      return send(403, status(403, "Forbidden", `${what} is forbidden: User "system:serviceaccount:${NS}:chartroom-reporter" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${ns}"`));
    }
    if (group === "apps.wandb.com" && resource === "weightsandbiases") {
      if (name === undefined) return send(200, { apiVersion: "apps.wandb.com/v1", kind: "WeightsAndBiasesList", metadata: {}, items: cluster.wandbs });
      const cr = cluster.wandbs.find((w) => (w.metadata as Obj).name === name);
      return cr ? send(200, cr) : send(404, status(404, "NotFound", `weightsandbiases.apps.wandb.com "${name}" not found`));
    }
    if (group === "" && resource === "secrets" && name !== undefined) {
      const data = cluster.secrets[name];
      if (!data) return send(404, status(404, "NotFound", `secrets "${name}" not found`));
      const b64 = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
      return send(200, { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: NS }, type: "Opaque", data: b64 });
    }
    return send(404, status(404, "NotFound", "the server could not find the requested resource"));
  };
}

interface Received {
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Obj;
}

/** The stand-in Chartroom: records each report, answers with `answer` (202 by default). */
function chartroom(received: Received[], answer: { current: (n: number) => { status: number; body?: unknown } }) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      let body: Obj = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Obj;
      } catch {
        body = { unparsable: true };
      }
      received.push({ path: `${req.method} ${req.url}`, authorization: req.headers.authorization, contentType: req.headers["content-type"], body });
      const a = answer.current(received.length);
      if (a.status === 0) return void req.socket.destroy(); // a network error
      res.writeHead(a.status, { "content-type": "application/json" });
      res.end(a.body === undefined ? "" : JSON.stringify(a.body));
    });
  };
}

const listen = async (server: http.Server | https.Server): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as AddressInfo).port;
};

// ---------------------------------------------------------------- setup --

const dir = tempDir(t);
const pki = await testPki(dir);
const saDir = join(dir, "serviceaccount");
mkdirSync(saDir);
writeFileSync(join(saDir, "token"), `${SA_TOKEN}\n`);
writeFileSync(join(saDir, "ca.crt"), pki.ca);
writeFileSync(join(saDir, "namespace"), NS);
// The script as a ConfigMap mounts it: report.mjs, a link into "..data".
const mount = join(dir, "configmap");
mkdirSync(join(mount, "..data"), { recursive: true });
copyFileSync(SCRIPT, join(mount, "..data", "report.mjs"));
symlinkSync("..data/report.mjs", join(mount, "report.mjs"));

const cluster: Cluster = { wandbs: [], secrets: {}, reads: [] };
const kube = https.createServer({ key: pki.key, cert: pki.cert }, kubernetesApi(cluster));
const kubePort = await listen(kube);
const received: Received[] = [];
const answer = { current: (_n: number): { status: number; body?: unknown } => ({ status: 202 }) };
const cr = http.createServer(chartroom(received, answer));
const crPort = await listen(cr);
t.teardown(() => {
  kube.close();
  cr.close();
});

/** Every byte the reporter printed, over all runs, and every license it held (never in it). */
const printed: string[] = [];
const licenses: string[] = [LICENSE];

interface Run {
  code: number;
  log: Obj;
  stdout: string;
  stderr: string;
}

async function report(env: Record<string, string> = {}): Promise<Run> {
  const base: Record<string, string> = {
    KUBERNETES_SERVICE_HOST: "127.0.0.1",
    KUBERNETES_SERVICE_PORT: String(kubePort),
    SERVICEACCOUNT_DIR: saDir,
    CHARTROOM_URL: `http://127.0.0.1:${crPort}/`,
    WANDB_NAME: "wandb",
    LICENSE_SECRET_NAME: "license-secret",
    LICENSE_SECRET_KEY: "CUSTOMER_WANDB_LICENSE",
    RETRY_DELAY_MS: "10",
  };
  const merged = Object.fromEntries(Object.entries({ ...base, ...env }).filter(([, v]) => v !== ""));
  const result = await exec(process.execPath, [join(mount, "report.mjs")], { env: merged, timeout: 20_000 }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
  printed.push(result.stdout, result.stderr);
  const lines = result.stdout.trim().split("\n");
  let log: Obj = {};
  try {
    log = JSON.parse(lines[0] ?? "") as Obj;
  } catch {
    log = { unparsable: result.stdout };
  }
  return { ...result, log };
}

/** A WeightsAndBiases resource as the v1 operator leaves it. */
function wandb(name: string, statusFields: Obj, globalValues: Obj = { licenseSecret: { name: "license-secret", key: "CUSTOMER_WANDB_LICENSE" } }): Obj {
  return {
    apiVersion: "apps.wandb.com/v1",
    kind: "WeightsAndBiases",
    metadata: { name, namespace: NS, labels: { "app.kubernetes.io/name": "weightsandbiases" } },
    spec: { chart: { url: "http://charts.example.com", name: "operator-wandb", version: "0.18.0" }, values: { global: { host: "https://wandb.example.com", ...globalValues } } },
    status: statusFields,
  };
}

const specSecret = (version: string) => ({
  metadata: JSON.stringify({ channel: "stable", version, releaseId: `rel-${version}`, releasedAt: "2026-11-01T10:00:00Z" }),
  values: JSON.stringify({ global: { license: LICENSE } }),
  chart: JSON.stringify({ url: "https://charts.example.com", name: "operator-wandb", version: "0.18.0" }),
});

/** A cluster (phase null: the status has none): one resource, the license Secret (with the trailing newline of --from-file), both spec Secrets. */
function reset(phase: string | null = "Completed"): void {
  cluster.wandbs = [wandb("wandb", phase === null ? {} : { phase })];
  cluster.secrets = {
    "license-secret": { CUSTOMER_WANDB_LICENSE: `${LICENSE}\n` },
    "wandb-spec-active": specSecret("0.59.2"),
    "wandb-latest-cached-release": specSecret("0.60.0"),
  };
  cluster.reads = [];
  received.length = 0;
  answer.current = () => ({ status: 202 });
}

const BASIC = `Basic ${Buffer.from(`license:${LICENSE}`).toString("base64")}`;

// ---------------------------------------------------------------- cases --

t.test("each status.phase maps to its state, about the release the phase concerns", async (t) => {
  const table: { phase: string | null; state: string; release: string; message: RegExp }[] = [
    { phase: "Completed", state: "healthy", release: "0.59.2", message: /status\.phase "Completed"/ },
    { phase: "Invalid Config", state: "failed", release: "0.60.0", message: /status\.phase "Invalid Config"/ },
    { phase: "Loading", state: "applying", release: "0.60.0", message: /status\.phase "Loading"/ },
    { phase: "Applying", state: "applying", release: "0.60.0", message: /status\.phase "Applying"/ },
    { phase: "Deleting", state: "degraded", release: "0.60.0", message: /status\.phase "Deleting" is not one this reporter knows/ },
    { phase: null, state: "degraded", release: "0.60.0", message: /status\.phase is not set/ },
  ];
  for (const row of table) {
    reset(row.phase);
    const r = await report();
    const label = `phase ${JSON.stringify(row.phase)}`;
    t.equal(r.code, 0, `${label}: exit 0 (${r.stdout.trim()})`);
    t.equal(received.length, 1, `${label}: one report`);
    const got = received[0];
    t.equal(got?.path, "POST /api/v1/operator/report", `${label}: POST /api/v1/operator/report (CHARTROOM_URL's trailing slash dropped)`);
    t.equal(got?.authorization, BASIC, `${label}: Basic license:<JWT>, the JWT trimmed`);
    t.match(got?.contentType ?? "", /^application\/json/, `${label}: JSON body`);
    t.same(Object.keys(got?.body ?? {}).sort(), ["message", "release", "state"], `${label}: only release, state, message`);
    t.equal(got?.body.state, row.state, `${label} → ${row.state}`);
    t.equal(got?.body.release, row.release, `${label}: release ${row.release}`);
    t.match(String(got?.body.message), row.message, `${label}: message says what the operator said`);
    t.ok(String(got?.body.message).length <= 1024, `${label}: message within 1024 characters`);
    t.match(r.log, { level: "info", msg: "report sent", exitCode: 0, wandb: `${NS}/wandb`, state: row.state, release: row.release, attempts: 1, chartroomStatus: 202 }, `${label}: the log line`);
    t.equal(r.stdout.trim().split("\n").length, 1, `${label}: one log line`);
    t.equal(r.stderr, "", `${label}: nothing on stderr`);
  }
});

t.test("the release: status.version when recorded; the active spec for Completed; the cached one otherwise", async (t) => {
  reset("Completed");
  cluster.wandbs = [wandb("wandb", { phase: "Completed", version: "0.61.0" })];
  let r = await report();
  t.equal(received[0]?.body.release, "0.61.0", "status.version wins");
  t.equal(r.log.releaseFrom, "status.version", "and the log says where the release came from");
  t.notOk(cluster.reads.some((x) => x.includes("spec-active") || x.includes("cached")), "no spec Secret read");

  reset("Loading");
  delete cluster.secrets["wandb-latest-cached-release"];
  r = await report();
  t.equal(received[0]?.body.release, "0.59.2", "nothing cached: the active spec's release");
  t.equal(r.log.releaseFrom, "Secret wandb-spec-active");

  reset("Completed");
  cluster.secrets["wandb-spec-active"] = { ...specSecret("x"), metadata: JSON.stringify({ releaseId: "rel-only-id" }) };
  r = await report();
  t.equal(received[0]?.body.release, "rel-only-id", "a metadata without version: its releaseId (docs/api.md §9 takes either)");

  reset("Loading");
  delete cluster.secrets["wandb-latest-cached-release"];
  delete cluster.secrets["wandb-spec-active"];
  r = await report();
  t.equal(r.code, 3, "nothing recorded yet: exit 3");
  t.match(r.log, { level: "error", exitCode: 3, phase: "Loading", error: /recorded no release yet/ });
  t.equal(received.length, 0, "and nothing sent");
});

t.test("the resource: the named one, else the only one in the namespace", async (t) => {
  reset("Completed");
  let r = await report({ WANDB_NAME: "" });
  t.equal(r.code, 0, "WANDB_NAME empty: the only resource is found by a list");
  t.ok(cluster.reads.includes("list weightsandbiases"), "listed");
  t.equal(r.log.wandb, `${NS}/wandb`);

  cluster.wandbs.push(wandb("second", { phase: "Completed" }));
  received.length = 0;
  r = await report({ WANDB_NAME: "" });
  t.equal(r.code, 1, "two resources and no WANDB_NAME: a configuration error");
  t.match(String(r.log.error), /2 WeightsAndBiases in namespace default \(wandb, second\): set WANDB_NAME/);
  t.equal(received.length, 0, "nothing sent");
});

t.test("a missing resource is exit 2 and nothing is sent", async (t) => {
  reset("Completed");
  let r = await report({ WANDB_NAME: "not-there" });
  t.equal(r.code, 2, "exit 2");
  t.match(r.log, { level: "error", msg: "report not sent", exitCode: 2, error: "WeightsAndBiases default/not-there not found" });
  t.equal(received.length, 0, "nothing sent");

  cluster.wandbs = [];
  r = await report({ WANDB_NAME: "" });
  t.equal(r.code, 2, "none in the namespace: exit 2");
  t.equal(r.log.error, "no WeightsAndBiases in namespace default");
});

t.test("the license: the Secret the resource names, inline in the resource, or the settings' one", async (t) => {
  reset("Completed");
  delete cluster.secrets["license-secret"];
  let r = await report();
  t.equal(r.code, 2, "missing license Secret: exit 2");
  t.equal(r.log.error, "license Secret default/license-secret not found");
  t.equal(received.length, 0, "nothing sent");

  reset("Completed");
  cluster.secrets["license-secret"] = { OTHER_KEY: LICENSE };
  r = await report();
  t.equal(r.code, 2, "the key is missing: exit 2");
  t.equal(r.log.error, "license Secret default/license-secret has no key CUSTOMER_WANDB_LICENSE");

  reset("Completed");
  cluster.secrets["license-secret"] = { CUSTOMER_WANDB_LICENSE: " \n" };
  r = await report();
  t.equal(r.code, 2, "blank license: exit 2");
  t.match(String(r.log.error), /is empty/);

  reset("Completed");
  cluster.wandbs = [wandb("wandb", { phase: "Completed" }, { license: `  ${LICENSE}\n` })];
  delete cluster.secrets["license-secret"];
  r = await report();
  t.equal(r.code, 0, "spec.values.global.license inline: used first, as the operator does");
  t.equal(received[0]?.authorization, BASIC, "trimmed");
  t.equal(r.log.licenseFrom, "spec.values.global.license");
  t.notOk(cluster.reads.includes("get secrets/license-secret"), "no license Secret read");

  reset("Completed");
  cluster.wandbs = [wandb("wandb", { phase: "Completed" }, {})];
  r = await report();
  t.equal(r.code, 0, "the resource names no license: LICENSE_SECRET_NAME/KEY");
  t.equal(r.log.licenseFrom, "Secret license-secret key CUSTOMER_WANDB_LICENSE");
  r = await report({ LICENSE_SECRET_NAME: "", LICENSE_SECRET_KEY: "" });
  t.equal(r.code, 1, "and without them: a configuration error");
  t.match(String(r.log.error), /^no license:/);

  reset("Completed");
  cluster.wandbs = [wandb("wandb", { phase: "Completed" }, { licenseSecret: { name: "another-secret", key: "LICENSE" } })];
  r = await report();
  t.equal(r.code, 1, "the resource and the settings name different Secrets: refused (another licensee's license)");
  t.match(String(r.log.error), /Secret another-secret key LICENSE, LICENSE_SECRET_NAME\/LICENSE_SECRET_KEY say license-secret/);
  cluster.secrets["another-secret"] = { LICENSE };
  r = await report({ LICENSE_SECRET_NAME: "", LICENSE_SECRET_KEY: "" });
  t.equal(r.code, 2, "a Secret the Role does not name: the API server's 403 is exit 2");
  t.match(String(r.log.error), /forbidden.*deploy\/reporter\/manifests\/role\.yaml/);
  t.equal(r.log.kubernetesStatus, 403);
  t.equal(received.length, 0, "nothing sent");
});

t.test("Chartroom's refusals and failures", async (t) => {
  reset("Completed");
  answer.current = () => ({ status: 401, body: { statusCode: 401, error: "Unauthorized", code: "LICENSE_REVOKED", message: "license revoked" } });
  let r = await report();
  t.equal(r.code, 4, "401: exit 4");
  t.match(r.log, { level: "error", exitCode: 4, chartroomStatus: 401, chartroomCode: "LICENSE_REVOKED", attempts: 1, error: "Chartroom answered 401 LICENSE_REVOKED: license revoked" });
  t.equal(received.length, 1, "a 4xx is not retried");

  for (const [code, name] of [[404, "RELEASE_NOT_FOUND"], [429, "RATE_LIMITED"]] as const) {
    reset("Completed");
    answer.current = () => ({ status: code, body: { statusCode: code, error: "x", code: name, message: "no" } });
    r = await report();
    t.equal(r.code, 4, `${code}: exit 4`);
    t.equal(r.log.chartroomCode, name);
    t.equal(received.length, 1, `${code} not retried`);
  }

  reset("Completed");
  answer.current = (n) => (n === 1 ? { status: 503, body: { statusCode: 503, error: "Service Unavailable", code: "DATABASE_UNAVAILABLE", message: "down" } } : { status: 202 });
  r = await report();
  t.equal(r.code, 0, "a 503 then a 202: reported");
  t.equal(r.log.attempts, 2, "on the second attempt");
  t.same(received[0]?.body, received[1]?.body, "the same report twice");

  reset("Completed");
  answer.current = () => ({ status: 0 });
  r = await report();
  t.equal(r.code, 5, "the connection drops twice: exit 5");
  t.equal(r.log.attempts, 2, "after one retry");
  t.match(String(r.log.error), /^Chartroom unreachable/);

  reset("Completed");
  r = await report({ CHARTROOM_URL: "http://127.0.0.1:1" });
  t.equal(r.code, 5, "nothing listening: exit 5");

  reset("Completed");
  answer.current = () => ({ status: 401, body: { statusCode: 401, error: "Unauthorized", code: "LICENSE_MALFORMED", message: `bad license ${LICENSE}` } });
  r = await report();
  t.equal(r.code, 4, "a server that echoes the license");
  t.match(String(r.log.error), /bad license \[redacted\]/, "has it scrubbed from the log line");
});

t.test("configuration and cluster errors are named", async (t) => {
  reset("Completed");
  let r = await report({ CHARTROOM_URL: "" });
  t.equal(r.code, 1, "no CHARTROOM_URL: exit 1");
  t.match(String(r.log.error), /CHARTROOM_URL is not set/);
  r = await report({ CHARTROOM_URL: "https://user:pw@chartroom.example.com" });
  t.equal(r.code, 1, "credentials in CHARTROOM_URL: exit 1");
  r = await report({ SERVICEACCOUNT_DIR: join(dir, "nowhere") });
  t.equal(r.code, 2, "no service account: exit 2");
  t.match(String(r.log.error), /cannot read the service account/);
  const badSa = join(dir, "sa-wrong-token");
  mkdirSync(badSa);
  writeFileSync(join(badSa, "token"), "not-the-token");
  writeFileSync(join(badSa, "ca.crt"), pki.ca);
  writeFileSync(join(badSa, "namespace"), NS);
  r = await report({ SERVICEACCOUNT_DIR: badSa });
  t.equal(r.code, 2, "a token the API server refuses: exit 2");
  t.match(String(r.log.error), /Unauthorized/);
  const otherCa = join(dir, "sa-other-ca");
  mkdirSync(otherCa);
  await exec("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", join(otherCa, "k"), "-out", join(otherCa, "ca.crt"), "-days", "1", "-subj", "/CN=another-ca"]);
  writeFileSync(join(otherCa, "token"), SA_TOKEN);
  writeFileSync(join(otherCa, "namespace"), NS);
  r = await report({ SERVICEACCOUNT_DIR: otherCa });
  t.equal(r.code, 2, "an API server the pod's CA did not sign: refused (TLS is verified)");
  t.match(String(r.log.error), /unreachable/);
  t.equal(received.length, 0, "nothing sent by any of them");
});

t.test("against the real Chartroom app: each state stored and in the fleet, its refusals", async (t) => {
  const h = await testApp(t);
  await h.app.listen({ port: 0, host: "127.0.0.1" });
  const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  const sub = "reporter-acme";
  const token = h.license({ sub, channel: "stable", jti: "reporter-acme-1" });
  licenses.push(token);
  t.equal((await h.poll(token)).statusCode, 200, "the licensee polls (as its operator does)");
  const withLicense = (phase: string | null, license = `${token}\n`) => {
    reset(phase);
    cluster.secrets["license-secret"] = { CUSTOMER_WANDB_LICENSE: license };
    // The seeded channels: stable serves 0.58.1, beta 0.59.2.
    cluster.secrets["wandb-spec-active"] = specSecret("0.58.1");
    cluster.secrets["wandb-latest-cached-release"] = specSecret("0.59.2");
  };
  const fleetReport = async () => {
    await h.ctx.fleet.flush();
    const res = await h.admin("GET", "/fleet", undefined, "viewer");
    return (res.json() as { items: { sub: string; report: Obj | null }[] }).items.find((i) => i.sub === sub)?.report;
  };

  const table: { phase: string | null; state: string; release: string; message: RegExp }[] = [
    { phase: "Loading", state: "applying", release: "0.59.2", message: /status\.phase "Loading"/ },
    { phase: "Applying", state: "applying", release: "0.59.2", message: /status\.phase "Applying"/ },
    { phase: "Invalid Config", state: "failed", release: "0.59.2", message: /status\.phase "Invalid Config"/ },
    { phase: null, state: "degraded", release: "0.59.2", message: /status\.phase is not set/ },
    { phase: "Deleting", state: "degraded", release: "0.59.2", message: /"Deleting"/ },
    { phase: "Completed", state: "healthy", release: "0.58.1", message: /status\.phase "Completed"/ },
  ];
  for (const row of table) {
    withLicense(row.phase);
    const r = await report({ CHARTROOM_URL: url });
    const label = `phase ${JSON.stringify(row.phase)}`;
    t.equal(r.code, 0, `${label}: exit 0 (${r.stdout.trim()})`);
    t.match(r.log, { chartroomStatus: 202, state: row.state, release: row.release }, `${label}: Chartroom answered 202`);
    const stored = await fleetReport();
    t.match(stored, { state: row.state, releaseVersion: row.release, message: row.message }, `${label}: the fleet shows ${row.state} on ${row.release}`);
  }

  withLicense("Completed", "not.a.jwt");
  let r = await report({ CHARTROOM_URL: url });
  t.equal(r.code, 4, "a license Chartroom cannot verify: exit 4");
  t.match(r.log, { chartroomStatus: 401, chartroomCode: "LICENSE_MALFORMED", attempts: 1 }, "its 401 and code in the log");

  withLicense("Completed");
  cluster.secrets["wandb-spec-active"] = specSecret("9.9.9");
  r = await report({ CHARTROOM_URL: url });
  t.equal(r.code, 4, "a release Chartroom does not know: exit 4");
  t.match(r.log, { chartroomStatus: 404, chartroomCode: "RELEASE_NOT_FOUND" });

  t.equal((await h.admin("POST", "/licenses/reporter-acme-1/revoke", { reason: "test" })).statusCode, 200, "the license revoked");
  withLicense("Completed");
  r = await report({ CHARTROOM_URL: url });
  t.equal(r.code, 4, "a revoked license: exit 4");
  t.match(r.log, { chartroomStatus: 403, chartroomCode: "LICENSE_REVOKED" });
  t.match(await fleetReport(), { state: "healthy", releaseVersion: "0.58.1" }, "the refused reports changed nothing");
});

t.test("the license never appears in anything the reporter printed", async (t) => {
  t.ok(printed.length > 40, `${printed.length / 2} runs checked`);
  const all = printed.join("\n");
  for (const [i, license] of licenses.entries()) {
    t.notOk(all.includes(license), `license ${i + 1}: not the JWT`);
    t.notOk(all.includes(Buffer.from(`license:${license}`).toString("base64")), `license ${i + 1}: not the Basic credentials`);
    t.notOk(all.includes(license.split(".")[2] ?? "<none>"), `license ${i + 1}: not even its signature part`);
  }
});
