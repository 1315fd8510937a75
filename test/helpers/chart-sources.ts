// Chart sources for the bundle tests (docs/api.md §11): a Helm chart archive
// made in the test, a Helm repository the test serves (index.yaml and the
// archive, optionally behind Basic auth), and a real OCI registry: Debian's
// `docker-registry` (distribution 2.8; DOCKER_REGISTRY_BIN, else PATH;
// installed by .ci/run) started on a free port with filesystem storage in a
// temp dir, optionally with token auth (a token service in the test that
// wants Basic credentials, as real registries' do) or Basic auth (htpasswd),
// the chart pushed through
// the registry's HTTP API (blob uploads, the Helm config blob, the manifest).
// Where the binary is missing the tests are skipped LOUDLY, except in CI
// (CI=true), where that is a failure (like test/helpers/prometheus.ts).
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { SignJWT, importPKCS8 } from "jose";
import type { Test } from "tap";
import { packBundle } from "../../src/services/bundle-archive.js";
import { HELM_CHART_MEDIA_TYPE, HELM_CONFIG_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE } from "../../src/services/chart-sources.js";
import { tempDir } from "./db.js";
import { findBinary, freePort, withBinary, type Binary } from "./binaries.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** A Helm chart archive (`<name>/Chart.yaml`, values.yaml, a template), as `helm package` makes one. */
export async function makeChart(name: string, version: string): Promise<Buffer> {
  const files = [
    { path: `${name}/Chart.yaml`, bytes: Buffer.from(`apiVersion: v2\nname: ${name}\nversion: ${version}\ndescription: a chart made by the bundle tests\n`) },
    { path: `${name}/values.yaml`, bytes: Buffer.from("replicas: 1\n") },
    { path: `${name}/templates/configmap.yaml`, bytes: Buffer.from("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n") },
  ];
  const chunks: Buffer[] = [];
  for await (const c of packBundle(files, new Date("2026-01-01T00:00:00Z"))) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function listen(t: Test, server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

export interface HelmRepository {
  url: string;
  /** Requests the repository saw (paths). */
  requests: string[];
  /** Replace what a path answers (to tamper with the archive). */
  files: Map<string, Buffer>;
}

/**
 * A Helm repository: /index.yaml listing `chart` at `version` with a relative
 * URL (charts/<name>-<version>.tgz) and its digest (unless `digest: false`),
 * behind Basic auth when `basic` is given.
 */
export async function helmRepository(t: Test, o: { name: string; version: string; archive: Buffer; digest?: boolean | string; basic?: { username: string; password: string }; absolute?: boolean }): Promise<HelmRepository> {
  const files = new Map<string, Buffer>();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "");
    if (o.basic) {
      const want = `Basic ${Buffer.from(`${o.basic.username}:${o.basic.password}`).toString("base64")}`;
      if (req.headers.authorization !== want) return res.writeHead(401, { "www-authenticate": 'Basic realm="charts"' }).end("unauthorized");
    }
    const body = files.get((req.url ?? "").split("?")[0]!);
    if (!body) return res.writeHead(404).end("not found");
    res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length }).end(body);
  });
  const port = await listen(t, server);
  const url = `http://127.0.0.1:${port}/repo`;
  const path = `charts/${o.name}-${o.version}.tgz`;
  const digest = o.digest === false ? "" : typeof o.digest === "string" ? o.digest : sha256(o.archive);
  const index =
    `apiVersion: v1\nentries:\n  ${o.name}:\n  - apiVersion: v2\n    name: ${o.name}\n    version: 0.0.1\n    urls: [charts/${o.name}-0.0.1.tgz]\n` +
    `  - apiVersion: v2\n    name: ${o.name}\n    version: ${o.version}\n    urls:\n    - ${o.absolute ? `${url}/${path}` : path}\n${digest ? `    digest: ${digest}\n` : ""}generated: "2026-01-01T00:00:00Z"\n`;
  files.set("/repo/index.yaml", Buffer.from(index));
  files.set(`/repo/${path}`, o.archive);
  return { url, requests, files };
}

const REGISTRY: Binary = { file: "docker-registry", env: "DOCKER_REGISTRY_BIN", what: "the OCI registry", apt: "docker-registry" };

/** The docker-registry binary, or null. */
export function registryBinary(): string | null {
  return findBinary(REGISTRY);
}

/** Runs `fn` with the binary, or skips loudly (fails under CI) without it. */
export async function withRegistryBinary(t: Test, name: string, fn: (t: Test, bin: string) => Promise<void>): Promise<void> {
  await withBinary(t, REGISTRY, name, fn);
}


export interface Registry {
  /** host:port, as an oci:// URL names it. */
  host: string;
  /** How many tokens the token service issued (token auth only). */
  tokens: () => number;
  /** Pushes a chart archive as `<repository>:<tag>` through the distribution API; answers the layer's digest. */
  push(repository: string, tag: string, archive: Buffer, chart: { name: string; version: string }): Promise<string>;
}

interface TokenAuth {
  username: string;
  password: string;
}

/** A token service for the registry: Basic credentials in, an ES256 JWT with the asked scope out (x5c: the registry's trusted certificate). */
async function tokenService(t: Test, dir: string, auth: TokenAuth): Promise<{ realm: string; certFile: string; count: () => number; issue: (scope: string) => Promise<string> }> {
  const keyFile = join(dir, "token-key.pem");
  const certFile = join(dir, "token-cert.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", keyFile, "-out", certFile, "-days", "2", "-subj", "/CN=chartroom-test-token"], { stdio: "ignore" });
  const key = await importPKCS8(readFileSync(keyFile, "utf8"), "ES256");
  const der = Buffer.from(readFileSync(certFile, "utf8").replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64").toString("base64");
  let count = 0;
  const issue = async (scope: string) => {
    const access = scope
      .split(" ")
      .filter(Boolean)
      .map((s) => {
        const [type, name, actions] = [s.slice(0, s.indexOf(":")), s.slice(s.indexOf(":") + 1, s.lastIndexOf(":")), s.slice(s.lastIndexOf(":") + 1)];
        return { type, name, actions: actions.split(",") };
      });
    count++;
    return new SignJWT({ access })
      .setProtectedHeader({ alg: "ES256", typ: "JWT", x5c: [der] })
      .setIssuer("chartroom-test-issuer")
      .setAudience("chartroom-test-registry")
      .setSubject(auth.username)
      .setIssuedAt()
      .setNotBefore(Math.floor(Date.now() / 1000) - 60)
      .setExpirationTime("5m")
      .setJti(randomUUID())
      .sign(key);
  };
  const server = createServer((req: IncomingMessage, res) => {
    const want = `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`;
    if (req.headers.authorization !== want) return res.writeHead(401, { "www-authenticate": 'Basic realm="token"' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    const u = new URL(req.url ?? "/", "http://x");
    if (u.searchParams.get("service") !== "chartroom-test-registry") return res.writeHead(400).end("wrong service");
    void issue(u.searchParams.getAll("scope").join(" ")).then((token) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expires_in: 300 })));
  });
  const port = await listen(t, server);
  return { realm: `http://127.0.0.1:${port}/token`, certFile, count: () => count, issue };
}

/**
 * An htpasswd line for the registry's Basic auth: bcrypt, which is all
 * distribution accepts, made by the C library's crypt() through perl
 * (libxcrypt writes $2b$), as no bcrypt is at hand in Node.
 */
function htpasswdLine(user: string, password: string): string {
  const salt = randomUUID().replace(/-/g, "").slice(0, 22).replace(/[^./A-Za-z0-9]/g, "a");
  const hash = execFileSync("perl", ["-e", "print crypt($ARGV[0], $ARGV[1])", password, `$2b$05$${salt}`], { encoding: "utf8" });
  if (!hash.startsWith("$2b$")) throw new Error(`crypt() made no bcrypt hash (${hash}); the Basic-auth registry needs one`);
  return `${user}:${hash}\n`;
}

/** Starts docker-registry on a free port (token auth with `auth`, Basic auth with `basic`); stopped at teardown. */
export async function startRegistry(t: Test, bin: string, opts: { auth?: TokenAuth; basic?: TokenAuth } = {}): Promise<Registry> {
  const dir = tempDir(t);
  const port = await freePort();
  const tokens = opts.auth ? await tokenService(t, dir, opts.auth) : undefined;
  if (opts.basic) writeFileSync(join(dir, "htpasswd"), htpasswdLine(opts.basic.username, opts.basic.password));
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "data")}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n` +
      (tokens ? `auth:\n  token:\n    realm: ${tokens.realm}\n    service: chartroom-test-registry\n    issuer: chartroom-test-issuer\n    rootcertbundle: ${tokens.certFile}\n` : "") +
      (opts.basic ? `auth:\n  htpasswd:\n    realm: chartroom-test-registry\n    path: ${join(dir, "htpasswd")}\n` : ""),
  );
  const child: ChildProcess = spawn(bin, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr?.on("data", (c: Buffer) => (stderr = (stderr + c.toString("utf8")).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  t.teardown(async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  });
  const host = `127.0.0.1:${port}`;
  const base = `http://${host}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited ${child.exitCode}: ${stderr}`);
    try {
      const res = await fetch(`${base}/v2/`);
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`docker-registry not ready within 30 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }

  async function push(repository: string, tag: string, archive: Buffer, chart: { name: string; version: string }): Promise<string> {
    const headers: Record<string, string> = tokens
      ? { authorization: `Bearer ${await tokens.issue(`repository:${repository}:pull,push`)}` }
      : opts.basic
        ? { authorization: `Basic ${Buffer.from(`${opts.basic.username}:${opts.basic.password}`).toString("base64")}` }
        : {};
    const upload = async (bytes: Buffer): Promise<string> => {
      const digest = `sha256:${sha256(bytes)}`;
      const start = await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: "POST", headers });
      if (start.status !== 202) throw new Error(`blob upload start: HTTP ${start.status} ${await start.text()}`);
      const location = new URL(start.headers.get("location")!, base);
      location.searchParams.set("digest", digest);
      const put = await fetch(location, { method: "PUT", headers: { ...headers, "content-type": "application/octet-stream", "content-length": String(bytes.length) }, body: bytes });
      if (put.status !== 201) throw new Error(`blob upload: HTTP ${put.status} ${await put.text()}`);
      return digest;
    };
    const config = Buffer.from(JSON.stringify({ apiVersion: "v2", name: chart.name, version: chart.version }));
    const configDigest = await upload(config);
    const layerDigest = await upload(archive);
    const manifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST_MEDIA_TYPE,
      config: { mediaType: HELM_CONFIG_MEDIA_TYPE, digest: configDigest, size: config.length },
      layers: [{ mediaType: HELM_CHART_MEDIA_TYPE, digest: layerDigest, size: archive.length }],
    };
    const res = await fetch(`${base}/v2/${repository}/manifests/${tag}`, { method: "PUT", headers: { ...headers, "content-type": OCI_MANIFEST_MEDIA_TYPE }, body: JSON.stringify(manifest) });
    if (res.status !== 201) throw new Error(`manifest PUT: HTTP ${res.status} ${await res.text()}`);
    return layerDigest;
  }

  return { host, tokens: () => tokens?.count() ?? 0, push };
}
