// The pure rules of chart fetching (src/services/chart-sources.ts) and of a
// bundle's contents (src/services/bundle-contents.ts), as tables.
import t from "tap";
import { credentialsFor, findIndexEntry, indexUrl, ociReference, parseChallenge } from "../../src/services/chart-sources.js";
import { bundleFileName, imageReferences } from "../../src/services/bundle-contents.js";

t.test("ociReference: oci://host/path/chart and a version as registry, repository, name, tag", async (t) => {
  const ok: [string, string, ReturnType<typeof ociReference>][] = [
    ["oci://ghcr.io/wandb/helm-charts/operator-wandb", "0.19.2", { registry: "ghcr.io", repository: "wandb/helm-charts/operator-wandb", name: "operator-wandb", tag: "0.19.2" }],
    ["oci://127.0.0.1:5000/charts/app/", "1.0.0+build.7", { registry: "127.0.0.1:5000", repository: "charts/app", name: "app", tag: "1.0.0_build.7" }],
  ];
  for (const [url, version, want] of ok) t.same(ociReference(url, version), want, url);
  const bad: [string, RegExp][] = [
    ["https://ghcr.io/x", /not an oci/],
    ["oci://ghcr.io", /must name a repository/],
    ["oci://ghcr.io/", /must name a repository/],
    ["oci://ghcr.io/charts/app:1.0.0", /must not carry a tag/],
    ["oci://ghcr.io/Charts/App", /invalid repository name/],
  ];
  for (const [url, reason] of bad) t.throws(() => ociReference(url, "1.0.0"), reason, url);
});

t.test("indexUrl and findIndexEntry: relative and absolute archive URLs, digests, misses", async (t) => {
  t.equal(indexUrl("https://charts.wandb.ai"), "https://charts.wandb.ai/index.yaml");
  t.equal(indexUrl("https://example.com/helm/stable/"), "https://example.com/helm/stable/index.yaml");
  const index = `apiVersion: v1
entries:
  app:
  - version: 1.0.0
    urls: [app-1.0.0.tgz]
    digest: 1234e5
  - version: 1.1.0
    urls: ["https://cdn.example.com/app-1.1.0.tgz"]
  - version: 1.2.0
    urls: []
`;
  const at = "https://example.com/helm/index.yaml";
  t.same(findIndexEntry(index, at, "app", "1.0.0"), { url: "https://example.com/helm/app-1.0.0.tgz", digest: "1234e5" }, "relative to the index; a digest of digits and an e stays a string");
  t.same(findIndexEntry(index, at, "app", "1.1.0"), { url: "https://cdn.example.com/app-1.1.0.tgz", digest: undefined }, "absolute, no digest");
  t.throws(() => findIndexEntry(index, at, "app", "1.2.0"), /without a URL/);
  t.throws(() => findIndexEntry(index, at, "app", "2.0.0"), /not version 2\.0\.0/);
  t.throws(() => findIndexEntry(index, at, "other", "1.0.0"), /does not list chart other/);
  t.throws(() => findIndexEntry("<html>", at, "app", "1.0.0"), /not a Helm repository index/);
  t.throws(() => findIndexEntry("a: [", at, "app", "1.0.0"), /not YAML/);
});

t.test("parseChallenge: Bearer and Basic challenges of WWW-Authenticate", async (t) => {
  const cases: [string | undefined, ReturnType<typeof parseChallenge>][] = [
    ['Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:wandb/charts:pull"', { scheme: "bearer", params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:wandb/charts:pull" } }],
    ['bearer realm="https://auth.docker.io/token", service="registry.docker.io"', { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io" } }],
    ['Basic realm="Registry Realm"', { scheme: "basic", params: { realm: "Registry Realm" } }],
    ['Bearer realm="a\\"b"', { scheme: "bearer", params: { realm: 'a"b' } }],
    ["Negotiate abc", undefined],
    [undefined, undefined],
  ];
  for (const [header, want] of cases) t.same(parseChallenge(header), want, String(header));
});

t.test("credentialsFor: a registry config's auths by host[:port]", async (t) => {
  const auths = {
    "https://index.docker.io/v1/": { auth: Buffer.from("docker:pw").toString("base64") },
    "127.0.0.1:5000": { username: "u", password: "p:with:colons" },
    "ghcr.io": { auth: Buffer.from("gh:tok:en").toString("base64") },
    "broken.example.com": { auth: "bm9jb2xvbg==" },
  };
  t.same(credentialsFor(auths, "index.docker.io"), { username: "docker", password: "pw" });
  t.same(credentialsFor(auths, "127.0.0.1:5000"), { username: "u", password: "p:with:colons" });
  t.same(credentialsFor(auths, "GHCR.io"), { username: "gh", password: "tok:en" });
  t.equal(credentialsFor(auths, "127.0.0.1:5001"), undefined, "another port is another registry");
  t.equal(credentialsFor(auths, "broken.example.com"), undefined, "no colon: no credentials");
});

t.test("imageReferences: every image object under any key, sorted, once", async (t) => {
  const values = {
    app: { image: { repository: "wandb/local", tag: "0.61.0" } },
    console: { image: { repository: "wandb/console", tag: "2.14.0", digest: `sha256:${"a".repeat(64)}` } },
    weave: { nested: [{ image: { registry: "registry.example.com/", repository: "wandb/weave", tag: 3 } }] },
    dup: { image: { repository: "wandb/local", tag: "0.61.0" } },
    byDigest: { image: { repository: "wandb/x", digest: `sha256:${"b".repeat(64)}` } },
    noTag: { image: { repository: "wandb/untagged" } },
    text: { image: "nginx:1.25" },
  };
  t.same(imageReferences(values), [
    "registry.example.com/wandb/weave:3",
    `wandb/console:2.14.0@sha256:${"a".repeat(64)}`,
    "wandb/local:0.61.0",
    `wandb/x@sha256:${"b".repeat(64)}`,
  ]);
  t.same(imageReferences({}), []);
});

t.test("bundleFileName: nothing a shell or file system minds", async (t) => {
  t.equal(bundleFileName("customer-1", "stable", "0.61.0"), "chartroom-customer-1-stable-0.61.0.tar.gz");
  t.equal(bundleFileName("acme corp/../x", "stable", "1.0.0+b.1"), "chartroom-acme_corp_.._x-stable-1.0.0_b.1.tar.gz");
});
