// Air-gapped bundles (docs/api.md §11): GET /api/v1/admin/bundles against a
// Helm repository the test serves and a real OCI registry (docker-registry,
// test/helpers/chart-sources.ts). The archive is read back and checked:
// every digest of manifest.json, both signatures with jose (independent of
// our node:crypto signer), spec.json the very bytes and signature of that
// licensee's poll, images.txt, the custom resource and ConfigMap as the W&B
// operator's airgapped mode reads a local chart; failing sources are clean
// JSON errors, the export is audited, only admins may export; stepping
// stones carry their own spec and chart.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { createHash } from "node:crypto";
import t from "tap";
import type { Test } from "tap";
import { parse as parseYaml } from "yaml";
import { readBundle } from "../../src/services/bundle-archive.js";
import { bundleService } from "../../src/services/bundle-service.js";
import { verifyBundle } from "../../src/services/bundle-verify.js";
import { chartFetcher } from "../../src/services/chart-fetcher.js";
import { testApp, type TestApp } from "../helpers/app.js";
import { helmRepository, makeChart, startRegistry, withRegistryBinary } from "../helpers/chart-sources.js";
import { eachProvider, tempDir } from "../helpers/db.js";
import { decodeAsOperator, loadLocalChartAsOperator } from "../helpers/operator-decoder.js";
import { joseVerifyDetached } from "../helpers/spec-signature.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Manifest {
  format: string;
  sub: string;
  channel: string;
  release: { id: string; version: string; chart: { file?: string; source?: string; sha256?: string; path?: string } };
  createdAt: string;
  files: { path: string; sha256: string; size: number }[];
  steppingStones: { order: number; version: string; releaseId: string; dir: string; chart: { file?: string; path?: string } }[];
}

async function filesOf(body: Buffer): Promise<Map<string, Buffer>> {
  return readBundle(Readable.from([body]), { maxBytes: 256 * 1024 * 1024 });
}

function exportBundle(h: TestApp, sub: string, channel: string, role: "admin" | "viewer" | "release-engineer" = "admin") {
  return h.app.inject({ method: "GET", url: `/api/v1/admin/bundles?sub=${encodeURIComponent(sub)}&channel=${channel}`, headers: { authorization: `Bearer ${h.adminToken(role)}` } });
}

async function release(t: Test, h: TestApp, version: string, chart: object, extra: object = {}): Promise<void> {
  const res = await h.admin("POST", "/releases", { version, chart, images: { app: { repository: "registry.example.com/wandb/local", tag: version }, console: { repository: "wandb/console", tag: "2.14.0" } }, values: { weave: { install: true } }, ...extra }, "release-engineer");
  t.equal(res.statusCode, 201, `release ${version} created (${res.body.slice(0, 200)})`);
}

async function promote(t: Test, h: TestApp, channel: string, version: string): Promise<void> {
  const res = await h.admin("POST", `/channels/${channel}/promote`, { release: version }, "release-engineer");
  t.equal(res.statusCode, 200, `${channel} promoted to ${version} (${res.body.slice(0, 200)})`);
}

/** Every check of a bundle's files that holds whatever its chart source: digests, signatures, spec, images, operator files. */
async function checkBundle(t: Test, h: TestApp, files: Map<string, Buffer>, o: { sub: string; channel: string; version: string; archive: Buffer; chartName: string; chartVersion: string }): Promise<Manifest> {
  const manifest = JSON.parse(files.get("manifest.json")!.toString("utf8")) as Manifest;
  t.equal(manifest.sub, o.sub);
  t.equal(manifest.channel, o.channel);
  t.equal(manifest.release.version, o.version);
  t.ok(Date.now() - Date.parse(manifest.createdAt) < 60_000, "createdAt is now");
  const fileName = `${o.chartName}-${o.chartVersion}.tgz`;
  t.same(manifest.files.map((f) => f.path).sort(), ["charts/" + fileName, "images.txt", "operator/wandb-charts.yaml", "operator/weightsandbiases.yaml", "spec.jws", "spec.json"].sort(), "the files of §11");
  t.same([...files.keys()].sort(), ["manifest.json", "manifest.jws", ...manifest.files.map((f) => f.path)].sort(), "the archive holds exactly the manifest's files and the manifest");
  for (const f of manifest.files) {
    t.equal(sha256(files.get(f.path)!), f.sha256, `${f.path}: sha256`);
    t.equal(files.get(f.path)!.length, f.size, `${f.path}: size`);
  }
  t.ok(files.get(`charts/${fileName}`)!.equals(o.archive), "the chart archive as the source holds it");
  t.equal(manifest.release.chart.sha256, sha256(o.archive));
  t.equal(manifest.release.chart.file, `charts/${fileName}`);

  // Signatures, verified with jose against the published spec keys.
  const jwks = { keys: h.ctx.specKeys.publicJwks() };
  const mh = await joseVerifyDetached(files.get("manifest.jws")!.toString("utf8"), files.get("manifest.json")!, jwks as never);
  t.equal(mh.kid, h.ctx.specKeys.signer.kid, "manifest.jws: the spec key's kid");
  t.equal(mh.alg, "EdDSA");
  const sh = await joseVerifyDetached(files.get("spec.jws")!.toString("utf8"), files.get("spec.json")!, jwks as never);
  t.equal(sh.kid, h.ctx.specKeys.signer.kid, "spec.jws: the spec key's kid");

  // spec.json: what that licensee's poll answers now, byte for byte, and its signature exactly.
  const poll = await h.poll(h.license({ sub: o.sub, channel: o.channel }));
  t.equal(poll.statusCode, 200);
  t.ok(files.get("spec.json")!.equals(poll.rawPayload), "spec.json is the poll's body");
  const served = await h.ctx.specs.channelSpec(o.channel, o.sub);
  t.equal(files.get("spec.jws")!.toString("utf8"), h.ctx.specSignatures.of(served), "spec.jws is the signature of the poll's spec (signed once per spec)");
  t.equal(files.get("spec.jws")!.toString("utf8"), poll.headers["x-chartroom-signature"], "exactly what the poll's X-Chartroom-Signature carries");

  // images.txt: every image of the values, sorted, once each.
  const spec = decodeAsOperator(files.get("spec.json")!.toString("utf8"));
  t.equal(files.get("images.txt")!.toString("utf8"), `registry.example.com/wandb/local:${o.version}\nwandb/console:2.14.0\n`);

  // operator/: the custom resource and the ConfigMap, as the airgapped operator reads them.
  const cr = parseYaml(files.get("operator/weightsandbiases.yaml")!.toString("utf8")) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { chart: unknown; values: unknown } };
  t.equal(cr.apiVersion, "apps.wandb.com/v1");
  t.equal(cr.kind, "WeightsAndBiases");
  t.same(cr.spec.values, spec.values, "the resource's values are the spec's");
  const decoded = decodeAsOperator(JSON.stringify({ metadata: {}, chart: cr.spec.chart, values: cr.spec.values }));
  t.equal(decoded.chartKind, "local", "the operator decodes the resource's chart as a local chart");
  t.equal(decoded.chart.path, `/charts/${fileName}`);
  const cm = parseYaml(files.get("operator/wandb-charts.yaml")!.toString("utf8")) as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; binaryData: Record<string, string>; data?: unknown };
  t.equal(cm.kind, "ConfigMap");
  t.equal(cm.metadata.name, "wandb-charts", "the ConfigMap the operator chart mounts in airgapped mode");
  t.same(Object.keys(cm.binaryData), [fileName]);
  // The kubelet writes each binaryData key as a file under the mount (/charts): the operator then loads it.
  const mount = join(tempDir(t), "charts");
  mkdirSync(mount);
  writeFileSync(join(mount, fileName), Buffer.from(cm.binaryData[fileName]!, "base64"));
  t.ok(Buffer.from(cm.binaryData[fileName]!, "base64").equals(o.archive), "the ConfigMap holds the chart archive");
  const loaded = await loadLocalChartAsOperator(join(mount, decoded.chart.path!.slice("/charts/".length)));
  t.same({ name: loaded.name, version: loaded.version }, { name: o.chartName, version: o.chartVersion }, "the operator's local chart loader finds the chart");
  return manifest;
}

void eachProvider(t, "a bundle from a Helm repository: contents, digests, signatures, the operator's files; audited", async (t, provider) => {
  const archive = await makeChart("operator-wandb", "0.19.2");
  const repo = await helmRepository(t, { name: "operator-wandb", version: "0.19.2", archive });
  const h = await testApp(t, { provider });
  await release(t, h, "0.61.0", { url: repo.url, name: "operator-wandb", version: "0.19.2" });
  await promote(t, h, "stable", "0.61.0");
  t.equal((await h.admin("PUT", "/licenses/customer-1/values", { values: { global: { host: "https://wandb.customer-1.example" } } })).statusCode, 200);

  const res = await exportBundle(h, "customer-1", "stable");
  t.equal(res.statusCode, 200, res.statusCode === 200 ? "200" : res.body);
  t.match(res.headers["content-type"], /^application\/gzip/);
  t.equal(res.headers["content-disposition"], 'attachment; filename="chartroom-customer-1-stable-0.61.0.tar.gz"');
  const files = await filesOf(res.rawPayload);
  const manifest = await checkBundle(t, h, files, { sub: "customer-1", channel: "stable", version: "0.61.0", archive, chartName: "operator-wandb", chartVersion: "0.19.2" });
  t.equal(manifest.release.chart.source, `${repo.url}/charts/operator-wandb-0.19.2.tgz`);
  t.same(manifest.steppingStones, []);
  const values = decodeAsOperator(files.get("spec.json")!.toString("utf8")).values as { global: { host: string } };
  t.equal(values.global.host, "https://wandb.customer-1.example", "the licensee's own values, as its poll gets them");

  const audit = (await h.admin("GET", "/audit?action=bundle.export")).json() as { items: { actor: string; target: string; targetType: string; after: { channel: string; release: string } }[] };
  t.equal(audit.items.length, 1, "one audit entry");
  t.equal(audit.items[0]!.actor, "admin@example.com");
  t.equal(audit.items[0]!.target, "customer-1");
  t.equal(audit.items[0]!.targetType, "licensee");
  t.same({ channel: audit.items[0]!.after.channel, release: audit.items[0]!.after.release }, { channel: "stable", release: "0.61.0" });

  for (const role of ["viewer", "release-engineer"] as const) {
    const refused = await exportBundle(h, "customer-1", "stable", role);
    t.equal(refused.statusCode, 403, `${role}: 403`);
    t.equal(refused.json().code, "ROLE_REQUIRED");
  }
  t.equal(((await h.admin("GET", "/audit?action=bundle.export")).json() as { items: unknown[] }).items.length, 1, "refusals are not exports");
  const head = await h.app.inject({ method: "HEAD", url: "/api/v1/admin/bundles?sub=customer-1&channel=stable", headers: { authorization: `Bearer ${h.adminToken("admin")}` } });
  t.equal(head.statusCode, 404, "no HEAD (it would export and audit without an answer)");
  t.equal(((await h.admin("GET", "/audit?action=bundle.export")).json() as { items: unknown[] }).items.length, 1, "still one export audited");
});

t.test("failing chart sources: a clean 502 JSON naming the source, nothing exported or audited", async (t) => {
  const archive = await makeChart("operator-wandb", "0.19.2");
  const repo = await helmRepository(t, { name: "operator-wandb", version: "0.19.2", archive, digest: "0".repeat(64) });
  const h = await testApp(t);
  await release(t, h, "0.61.0", { url: "http://127.0.0.1:9/charts", name: "operator-wandb", version: "0.19.2" });
  await promote(t, h, "stable", "0.61.0");
  const unreachable = await exportBundle(h, "customer-1", "stable");
  t.equal(unreachable.statusCode, 502);
  t.match(unreachable.headers["content-type"], /^application\/json/);
  t.equal(unreachable.json().code, "CHART_SOURCE_UNREACHABLE");
  t.match(unreachable.json().message, "http://127.0.0.1:9/charts");

  await release(t, h, "0.61.1", { url: repo.url, name: "operator-wandb", version: "0.19.2" });
  await promote(t, h, "stable", "0.61.1");
  const mismatch = await exportBundle(h, "customer-1", "stable");
  t.equal(mismatch.statusCode, 502);
  t.equal(mismatch.json().code, "CHART_DIGEST_MISMATCH");
  t.match(mismatch.json().message, repo.url);

  const missing = await exportBundle(h, "customer-1", "no-such-channel");
  t.equal(missing.statusCode, 404, "an unknown channel: the poll's 404");
  t.equal(missing.json().code, "CHANNEL_NOT_FOUND");
  t.equal(((await h.admin("GET", "/audit?action=bundle.export")).json() as { items: unknown[] }).items.length, 0, "no export audited");
});

t.test("a local chart is referenced, not copied: the resource points at its path, no ConfigMap", async (t) => {
  const h = await testApp(t);
  await release(t, h, "0.61.0", { path: "/charts/operator-wandb-0.19.2.tgz" });
  await promote(t, h, "stable", "0.61.0");
  const res = await exportBundle(h, "customer-1", "stable");
  t.equal(res.statusCode, 200);
  const files = await filesOf(res.rawPayload);
  const manifest = JSON.parse(files.get("manifest.json")!.toString("utf8")) as Manifest;
  t.same(manifest.release.chart, { path: "/charts/operator-wandb-0.19.2.tgz" });
  t.notOk([...files.keys()].some((p) => p.startsWith("charts/")), "no chart archive");
  t.notOk(files.has("operator/wandb-charts.yaml"), "no ConfigMap");
  const cr = parseYaml(files.get("operator/weightsandbiases.yaml")!.toString("utf8")) as { spec: { chart: { path: string } } };
  t.same(cr.spec.chart, { path: "/charts/operator-wandb-0.19.2.tgz" });
});

void withRegistryBinary(t, "a bundle from an OCI registry (docker-registry behind a token service)", async (t, bin) => {
  const archive = await makeChart("operator-wandb", "0.19.3");
  const reg = await startRegistry(t, bin, { auth: { username: "ci", password: "pull-secret" } });
  await reg.push("wandb/charts/operator-wandb", "0.19.3", archive, { name: "operator-wandb", version: "0.19.3" });
  const dir = tempDir(t);
  const authFile = join(dir, "registry-auth.json");
  writeFileSync(authFile, JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from("ci:pull-secret").toString("base64") } } }));
  const h = await testApp(t, { env: { CHART_PLAIN_HTTP_REGISTRIES: reg.host, CHART_REGISTRY_AUTH_FILE: authFile } });
  await release(t, h, "0.61.0", { url: `oci://${reg.host}/wandb/charts/operator-wandb`, version: "0.19.3" });
  await promote(t, h, "stable", "0.61.0");
  const res = await exportBundle(h, "customer-2", "stable");
  t.equal(res.statusCode, 200, res.statusCode === 200 ? "200" : res.body);
  const files = await filesOf(res.rawPayload);
  const manifest = await checkBundle(t, h, files, { sub: "customer-2", channel: "stable", version: "0.61.0", archive, chartName: "operator-wandb", chartVersion: "0.19.3" });
  t.equal(manifest.release.chart.source, `oci://${reg.host}/wandb/charts/operator-wandb@sha256:${sha256(archive)}`);
});

t.test("stepping stones: each one's spec (the licensee's pinned answer) and chart, in order", async (t) => {
  const a1 = await makeChart("operator-wandb", "0.19.0");
  const a2 = await makeChart("operator-wandb", "0.19.2");
  const repo1 = await helmRepository(t, { name: "operator-wandb", version: "0.19.0", archive: a1 });
  const repo2 = await helmRepository(t, { name: "operator-wandb", version: "0.19.2", archive: a2 });
  const h = await testApp(t);
  await release(t, h, "0.61.0", { url: repo1.url, name: "operator-wandb", version: "0.19.0" });
  await promote(t, h, "stable", "0.61.0");
  await release(t, h, "0.62.0", { url: repo2.url, name: "operator-wandb", version: "0.19.2" });
  await promote(t, h, "stable", "0.62.0");
  const stone = (await h.ctx.store.releases.findByRef("0.61.0"))!;
  const asked: unknown[] = [];
  const bundles = bundleService({
    specs: h.ctx.specs,
    charts: chartFetcher({ denyPrivate: false, maxBytes: 1024 * 1024, timeoutMs: 5000 }),
    audit: h.ctx.store.audit,
    signer: h.ctx.specKeys.signer,
    signatureOf: (s) => h.ctx.specSignatures.of(s),
    steppingStones: (q) => {
      asked.push(q);
      return [{ id: stone.id, version: stone.version }];
    },
  });
  const b = await bundles.prepare({ sub: "customer-1", channel: "stable" }, { sub: "admin@example.com" });
  t.same(asked, [{ sub: "customer-1", channel: "stable", release: { id: (await h.ctx.store.releases.findByRef("0.62.0"))!.id, version: "0.62.0" } }], "asked for the licensee's stones towards its release");
  const files = new Map(b.files.map((f) => [f.path, f.bytes]));
  t.same(b.manifest.steppingStones, [{ order: 1, version: "0.61.0", releaseId: stone.id, dir: "stepping-stones/01-0.61.0/", chart: { file: "charts/operator-wandb-0.19.0.tgz" } }]);
  t.ok(files.get("charts/operator-wandb-0.19.0.tgz")!.equals(a1), "the stone's chart");
  t.ok(files.get("charts/operator-wandb-0.19.2.tgz")!.equals(a2), "the target's chart");
  const pinned = await h.poll(h.license({ sub: "customer-1", channel: "stable" }), `/api/v1/operator/channel/release/${stone.id}`);
  t.equal(pinned.statusCode, 200);
  t.ok(files.get("stepping-stones/01-0.61.0/spec.json")!.equals(pinned.rawPayload), "the stone's spec is the licensee's pinned answer");
  await joseVerifyDetached(files.get("stepping-stones/01-0.61.0/spec.jws")!.toString("utf8"), files.get("stepping-stones/01-0.61.0/spec.json")!, { keys: h.ctx.specKeys.publicJwks() } as never);
  const cr = parseYaml(files.get("stepping-stones/01-0.61.0/operator/weightsandbiases.yaml")!.toString("utf8")) as { spec: { chart: { path: string } } };
  t.same(cr.spec.chart, { path: "/charts/operator-wandb-0.19.0.tgz" });
  const cm = parseYaml(files.get("stepping-stones/01-0.61.0/operator/wandb-charts.yaml")!.toString("utf8")) as { binaryData: Record<string, string> };
  t.same(Object.keys(cm.binaryData), ["operator-wandb-0.19.0.tgz"]);
  for (const f of b.manifest.files) t.equal(sha256(files.get(f.path)!), f.sha256, `${f.path}: listed with its digest`);
  t.ok(b.manifest.files.some((f) => f.path === "stepping-stones/01-0.61.0/spec.jws"), "the stone's signature is listed");
  t.same(b.warnings, [], "charts this small fit a ConfigMap");
  const verified = verifyBundle(files, { keys: h.ctx.specKeys.publicJwks() });
  t.same(verified.problems, [], "bundle verify finds nothing wrong");
  t.same(verified.signatures.map((s) => s.file).sort(), ["manifest.jws", "spec.jws", "stepping-stones/01-0.61.0/spec.jws"], "and checks the stone's signature too");
});

t.test("a chart too big for a ConfigMap is exported with a warning in the log", async (t) => {
  const { randomBytes } = await import("node:crypto");
  const { packBundle } = await import("../../src/services/bundle-archive.js");
  const chunks: Buffer[] = [];
  const files = [
    { path: "big/Chart.yaml", bytes: Buffer.from("apiVersion: v2\nname: big\nversion: 1.0.0\n") },
    { path: "big/files/blob.bin", bytes: randomBytes(900 * 1024) },
  ];
  for await (const c of packBundle(files, new Date())) chunks.push(c as Buffer);
  const archive = Buffer.concat(chunks);
  const repo = await helmRepository(t, { name: "big", version: "1.0.0", archive });
  const h = await testApp(t, { captureLogs: true });
  await release(t, h, "0.61.0", { url: repo.url, name: "big", version: "1.0.0" });
  await promote(t, h, "stable", "0.61.0");
  const res = await exportBundle(h, "customer-1", "stable");
  t.equal(res.statusCode, 200, "still exported: the archive under charts/ is usable by other means");
  const warned = h.logs.map((l) => JSON.parse(l) as { level: number; msg: string; warning?: string }).find((l) => l.msg.startsWith("bundle exported with a problem"));
  t.equal(warned?.level, 40, "logged at warn");
  t.match(warned?.warning, /operator\/wandb-charts\.yaml is \d+ bytes, over Kubernetes' 1 MiB/);
});

t.test("an upgrade path (§8): spec.json is the licensee's next stone, the rest of the way follows in order", async (t) => {
  const archive = await makeChart("operator-wandb", "0.19.0");
  const repo = await helmRepository(t, { name: "operator-wandb", version: "0.19.0", archive });
  const chart = { url: repo.url, name: "operator-wandb", version: "0.19.0" };
  const h = await testApp(t);
  for (const v of ["0.70.0", "0.71.0", "0.72.0"]) await release(t, h, v, chart);
  await promote(t, h, "stable", "0.70.0");
  const token = h.license({ sub: "site-7" });
  t.equal((await h.poll(token)).json().metadata.version, "0.70.0");
  await h.ctx.fleet.flush(true);
  await promote(t, h, "stable", "0.71.0");
  t.equal((await h.admin("POST", "/releases/0.71.0/required", { required: true, reason: "schema migration" }, "release-engineer")).statusCode, 200);
  await promote(t, h, "stable", "0.72.0");
  const res = await exportBundle(h, "site-7", "stable");
  t.equal(res.statusCode, 200, res.statusCode === 200 ? "" : res.body);
  const files = await filesOf(res.rawPayload);
  const manifest = JSON.parse(files.get("manifest.json")!.toString("utf8")) as Manifest;
  t.equal(manifest.release.version, "0.71.0", "spec.json: the stone its poll gets now");
  t.equal(JSON.parse(files.get("spec.json")!.toString("utf8")).metadata.version, "0.71.0");
  t.same(manifest.steppingStones.map((s) => s.version), ["0.72.0"], "then the rest of the way: the target");
  t.equal(JSON.parse(files.get("stepping-stones/01-0.72.0/spec.json")!.toString("utf8")).metadata.version, "0.72.0");
  const fresh = JSON.parse((await filesOf((await exportBundle(h, "never-seen", "stable")).rawPayload)).get("manifest.json")!.toString("utf8")) as Manifest;
  t.equal(fresh.release.version, "0.72.0", "a fresh install: the target");
  t.same(fresh.steppingStones, [], "and no stones");
});
