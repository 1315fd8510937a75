// Fetching a release's chart for a bundle (src/services/chart-fetcher.ts):
// from a Helm repository the test serves and from a real OCI registry
// (docker-registry, test/helpers/chart-sources.ts), anonymous and behind a
// token service; digests checked, failures named by their source.
import { createHash } from "node:crypto";
import t from "tap";
import { chartFetcher, type ChartFetcherOptions } from "../../src/services/chart-fetcher.js";
import { helmRepository, makeChart, startRegistry, withRegistryBinary } from "../helpers/chart-sources.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
type Failure = Error & { code: string; statusCode: number };
const failure = (e: unknown) => e as Failure;
const unexpected = (): Failure => {
  throw new Error("fetched, but a failure was expected");
};
const base: ChartFetcherOptions = { denyPrivate: false, maxBytes: 1024 * 1024, timeoutMs: 5000 };

t.test("a Helm repository: the index's entry (relative URL), digest checked", async (t) => {
  const archive = await makeChart("operator-wandb", "0.18.0");
  const repo = await helmRepository(t, { name: "operator-wandb", version: "0.18.0", archive });
  const got = await chartFetcher(base).fetch({ url: repo.url, name: "operator-wandb", version: "0.18.0" });
  t.ok(got);
  t.ok(got!.bytes.equals(archive), "the archive's bytes");
  t.equal(got!.sha256, sha256(archive));
  t.equal(got!.fileName, "operator-wandb-0.18.0.tgz");
  t.equal(got!.source, `${repo.url}/charts/operator-wandb-0.18.0.tgz`, "relative to the index");
  t.same(repo.requests, ["/repo/index.yaml", "/repo/charts/operator-wandb-0.18.0.tgz"]);
});

t.test("a Helm repository with an absolute URL and no digest; a trailing slash on the repository URL", async (t) => {
  const archive = await makeChart("app", "1.2.3");
  const repo = await helmRepository(t, { name: "app", version: "1.2.3", archive, digest: false, absolute: true });
  const got = await chartFetcher(base).fetch({ url: `${repo.url}/`, name: "app", version: "1.2.3" });
  t.ok(got!.bytes.equals(archive));
  t.equal(got!.sha256, sha256(archive), "digest computed");
});

t.test("a wrong digest is CHART_DIGEST_MISMATCH naming the source", async (t) => {
  const archive = await makeChart("app", "1.2.3");
  const repo = await helmRepository(t, { name: "app", version: "1.2.3", archive });
  repo.files.set("/repo/charts/app-1.2.3.tgz", Buffer.concat([archive, Buffer.from("x")]));
  const err = await chartFetcher(base).fetch({ url: repo.url, name: "app", version: "1.2.3" }).then(unexpected, failure);
  t.equal(err.code, "CHART_DIGEST_MISMATCH");
  t.equal(err.statusCode, 502);
  t.match(err.message, repo.url);
  t.match(err.message, sha256(archive));
});

t.test("a version the index does not list is CHART_NOT_FOUND; a chart it does not list too", async (t) => {
  const archive = await makeChart("app", "1.2.3");
  const repo = await helmRepository(t, { name: "app", version: "1.2.3", archive });
  const f = chartFetcher(base);
  const e1 = await f.fetch({ url: repo.url, name: "app", version: "9.9.9" }).then(unexpected, failure);
  t.equal(e1.code, "CHART_NOT_FOUND");
  t.match(e1.message, /not version 9\.9\.9/);
  const e2 = await f.fetch({ url: repo.url, name: "other", version: "1.2.3" }).then(unexpected, failure);
  t.equal(e2.code, "CHART_NOT_FOUND");
  t.match(e2.message, /does not list chart other/);
});

t.test("Basic auth from CHART_REGISTRY_AUTH_FILE's auths, only when the repository asks", async (t) => {
  const archive = await makeChart("app", "1.2.3");
  const repo = await helmRepository(t, { name: "app", version: "1.2.3", archive, basic: { username: "u", password: "p:w" } });
  const host = new URL(repo.url).host;
  const without = await chartFetcher(base).fetch({ url: repo.url, name: "app", version: "1.2.3" }).then(unexpected, failure);
  t.equal(without.code, "CHART_SOURCE_ERROR");
  t.match(without.message, /HTTP 401/);
  const got = await chartFetcher({ ...base, auths: { [host]: { auth: Buffer.from("u:p:w").toString("base64") } } }).fetch({ url: repo.url, name: "app", version: "1.2.3" });
  t.ok(got!.bytes.equals(archive));
});

t.test("an unreachable source is CHART_SOURCE_UNREACHABLE naming it; a slow one times out", async (t) => {
  const e = await chartFetcher(base).fetch({ url: "http://127.0.0.1:9/charts", name: "app", version: "1.0.0" }).then(unexpected, failure);
  t.equal(e.code, "CHART_SOURCE_UNREACHABLE");
  t.equal(e.statusCode, 502);
  t.match(e.message, "http://127.0.0.1:9/charts");
  t.match(e.message, /ECONNREFUSED/);
  const { createServer } = await import("node:http");
  const server = createServer(() => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as { port: number }).port;
  const slow = await chartFetcher({ ...base, timeoutMs: 200 }).fetch({ url: `http://127.0.0.1:${port}/r`, name: "app", version: "1.0.0" }).then(unexpected, failure);
  t.equal(slow.code, "CHART_SOURCE_UNREACHABLE");
  t.match(slow.message, /no answer within 200 ms/);
});

t.test("OUTBOUND_DENY_PRIVATE refuses a chart source on a loopback address", async (t) => {
  const archive = await makeChart("app", "1.2.3");
  const repo = await helmRepository(t, { name: "app", version: "1.2.3", archive });
  const e = await chartFetcher({ ...base, denyPrivate: true }).fetch({ url: repo.url, name: "app", version: "1.2.3" }).then(unexpected, failure);
  t.equal(e.code, "CHART_SOURCE_UNREACHABLE");
  t.match(e.message, /OUTBOUND_DENY_PRIVATE/);
  t.same(repo.requests, [], "never asked");
  const named = await chartFetcher({ ...base, denyPrivate: true }).fetch({ url: repo.url.replace("127.0.0.1", "localhost"), name: "app", version: "1.2.3" }).then(unexpected, failure);
  t.equal(named.code, "CHART_SOURCE_UNREACHABLE", "a name resolving inward too");
  t.match(named.message, /resolves to/);
});

t.test("an archive over BUNDLE_MAX_CHART_BYTES is CHART_TOO_LARGE", async (t) => {
  const archive = Buffer.concat([await makeChart("app", "1.2.3"), Buffer.alloc(8192)]);
  const repo = await helmRepository(t, { name: "app", version: "1.2.3", archive });
  const e = await chartFetcher({ ...base, maxBytes: 4096 }).fetch({ url: repo.url, name: "app", version: "1.2.3" }).then(unexpected, failure);
  t.equal(e.code, "CHART_TOO_LARGE");
  t.match(e.message, /BUNDLE_MAX_CHART_BYTES/);
});

t.test("an archive that is not the chart asked for is CHART_SOURCE_ERROR", async (t) => {
  const other = await makeChart("other-chart", "1.2.3");
  const repo = await helmRepository(t, { name: "app", version: "1.2.3", archive: other });
  const wrong = await chartFetcher(base).fetch({ url: repo.url, name: "app", version: "1.2.3" }).then(unexpected, failure);
  t.equal(wrong.code, "CHART_SOURCE_ERROR");
  t.match(wrong.message, /holds chart other-chart 1\.2\.3, not app 1\.2\.3/);
  const junk = await helmRepository(t, { name: "app", version: "1.2.3", archive: Buffer.from("<html>not a chart</html>") });
  const notArchive = await chartFetcher(base).fetch({ url: junk.url, name: "app", version: "1.2.3" }).then(unexpected, failure);
  t.equal(notArchive.code, "CHART_SOURCE_ERROR");
  t.match(notArchive.message, /is not a chart archive/);
});

t.test("a local chart is not fetched", async (t) => {
  t.equal(await chartFetcher(base).fetch({ path: "/charts/operator-wandb-0.18.0.tgz" }), null);
});

void withRegistryBinary(t, "an OCI registry (docker-registry): anonymous, behind a token service, behind Basic auth", async (t, bin) => {
  const archive = await makeChart("operator-wandb", "0.18.0+build.1");

  await t.test("anonymous: manifest, then the chart layer, digest checked", async (t) => {
    const reg = await startRegistry(t, bin);
    const digest = await reg.push("wandb/charts/operator-wandb", "0.18.0_build.1", archive, { name: "operator-wandb", version: "0.18.0+build.1" });
    const got = await chartFetcher({ ...base, plainHttpRegistries: [reg.host] }).fetch({ url: `oci://${reg.host}/wandb/charts/operator-wandb`, version: "0.18.0+build.1" });
    t.ok(got!.bytes.equals(archive));
    t.equal(`sha256:${got!.sha256}`, digest);
    t.equal(got!.fileName, "operator-wandb-0.18.0+build.1.tgz");
    t.equal(got!.source, `oci://${reg.host}/wandb/charts/operator-wandb@${digest}`);
    const missing = await chartFetcher({ ...base, plainHttpRegistries: [reg.host] }).fetch({ url: `oci://${reg.host}/wandb/charts/operator-wandb`, version: "9.9.9" }).then(unexpected, failure);
    t.equal(missing.code, "CHART_NOT_FOUND");
    t.match(missing.message, `oci://${reg.host}/wandb/charts/operator-wandb:9.9.9`);
  });

  await t.test("token auth: the Bearer challenge's realm asked with Basic credentials from the auth file", async (t) => {
    const reg = await startRegistry(t, bin, { auth: { username: "puller", password: "s3cret" } });
    const app = await makeChart("app", "1.0.0");
    await reg.push("charts/app", "1.0.0", app, { name: "app", version: "1.0.0" });
    const pushed = reg.tokens();
    const anonymous = await chartFetcher({ ...base, plainHttpRegistries: [reg.host] }).fetch({ url: `oci://${reg.host}/charts/app`, version: "1.0.0" }).then(unexpected, failure);
    t.equal(anonymous.code, "CHART_SOURCE_ERROR", "the token service refuses without credentials");
    t.match(anonymous.message, /token service/);
    const wrong = await chartFetcher({ ...base, plainHttpRegistries: [reg.host], auths: { [reg.host]: { username: "puller", password: "nope" } } }).fetch({ url: `oci://${reg.host}/charts/app`, version: "1.0.0" }).then(unexpected, failure);
    t.equal(wrong.code, "CHART_SOURCE_ERROR");
    const got = await chartFetcher({ ...base, plainHttpRegistries: [reg.host], auths: { [`https://${reg.host}/v1/`]: { auth: Buffer.from("puller:s3cret").toString("base64") } } }).fetch({ url: `oci://${reg.host}/charts/app`, version: "1.0.0" });
    t.ok(got!.bytes.equals(app));
    t.equal(reg.tokens() - pushed, 1, "one token for the manifest and the blob");
  });

  await t.test("Basic auth (htpasswd): the registry's Basic challenge answered with the auth file's credentials", async (t) => {
    const reg = await startRegistry(t, bin, { basic: { username: "puller", password: "b4sic" } });
    const app = await makeChart("app", "2.0.0");
    await reg.push("charts/app", "2.0.0", app, { name: "app", version: "2.0.0" });
    const without = await chartFetcher({ ...base, plainHttpRegistries: [reg.host] }).fetch({ url: `oci://${reg.host}/charts/app`, version: "2.0.0" }).then(unexpected, failure);
    t.equal(without.code, "CHART_SOURCE_ERROR");
    t.match(without.message, `no credentials for ${reg.host} are in CHART_REGISTRY_AUTH_FILE`);
    const wrong = await chartFetcher({ ...base, plainHttpRegistries: [reg.host], auths: { [reg.host]: { username: "puller", password: "nope" } } }).fetch({ url: `oci://${reg.host}/charts/app`, version: "2.0.0" }).then(unexpected, failure);
    t.equal(wrong.code, "CHART_SOURCE_ERROR");
    t.match(wrong.message, /refused the credentials/);
    const got = await chartFetcher({ ...base, plainHttpRegistries: [reg.host], auths: { [reg.host]: { username: "puller", password: "b4sic" } } }).fetch({ url: `oci://${reg.host}/charts/app`, version: "2.0.0" });
    t.ok(got!.bytes.equals(app));
  });
});
