// chartroom bundle export and bundle verify (docs/api.md §11) end to end:
// main() against a listening server whose release's chart is in a Helm
// repository the test serves. Export writes the file only once complete (a
// failing source leaves nothing); verify checks it offline against a JWKS
// file (and the URL), and names the file of every tampering: a changed
// file, a missing one, an extra one, a wrong key.
import { createHash, generateKeyPairSync } from "node:crypto";
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import t from "tap";
import { packBundle, readBundle } from "../../src/services/bundle-archive.js";
import { specSigner } from "../../src/licensing/spec-key.js";
import { main } from "../../src/cli/main.js";
import { helmRepository, makeChart } from "../helpers/chart-sources.js";
import { tempDir } from "../helpers/db.js";
import { run, serve } from "./fixtures/cli-harness.js";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

async function rewrite(src: string, dest: string, change: (files: Map<string, Buffer>) => void): Promise<void> {
  const files = await readBundle(Readable.from([readFileSync(src)]), { maxBytes: 64 * 1024 * 1024 });
  change(files);
  const chunks: Buffer[] = [];
  for await (const c of packBundle([...files].map(([path, bytes]) => ({ path, bytes })), new Date())) chunks.push(c as Buffer);
  writeFileSync(dest, Buffer.concat(chunks));
}

t.test("bundle export, then verify offline; tampering is named", async (t) => {
  const archive = await makeChart("operator-wandb", "0.19.2");
  const repo = await helmRepository(t, { name: "operator-wandb", version: "0.19.2", archive });
  const { h, url } = await serve(t);
  const created = await h.admin("POST", "/releases", { version: "0.61.0", chart: { url: repo.url, name: "operator-wandb", version: "0.19.2" }, images: { app: { repository: "wandb/local", tag: "0.61.0" } } }, "release-engineer");
  t.equal(created.statusCode, 201);
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.61.0" }, "release-engineer")).statusCode, 200);
  const dir = tempDir(t);
  const env = { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin") };

  const out = join(dir, "customer-1.tar.gz");
  const exported = await run(["bundle", "export", "--sub", "customer-1", "--channel", "stable", "--out", out], env);
  t.equal(exported.code, 0, exported.stderr);
  t.match(exported.stdout, /release: +0\.61\.0/);
  t.match(exported.stdout, new RegExp(`sha256: +${sha256(readFileSync(out))}`), "the archive's digest is printed");
  t.match(exported.stderr, /chartroom bundle verify/, "how to check it");
  t.same(readdirSync(dir), ["customer-1.tar.gz"], "no temp file left");

  // On a terminal, a progress line rewritten in place; never without one (above).
  let progress = "";
  const tty = await main(["bundle", "export", "--sub", "customer-1", "--channel", "stable", "--out", join(dir, "tty.tar.gz")], { env, stdout: { write: () => true }, stderr: { write: (s: string) => (progress += s), isTTY: true } });
  t.equal(tty.valueOf(), 0);
  t.match(progress, /\rreceived tty\.tar\.gz: \d+(\.\d)? (KiB|MiB|bytes)/, "the progress line on a terminal");
  t.notMatch(exported.stderr, /\r/, "no progress line when stderr is not a terminal");
  rmSync(join(dir, "tty.tar.gz"));

  const jwksFile = join(dir, "jwks.json");
  writeFileSync(jwksFile, JSON.stringify({ keys: h.ctx.specKeys.publicJwks() }));
  const ok = await run(["bundle", "verify", out, "--jwks", jwksFile], {});
  t.equal(ok.code, 0, ok.stderr);
  t.match(ok.stdout, /manifest\.jws over manifest\.json: kid /);
  t.match(ok.stdout, /spec\.jws over spec\.json: kid /);
  t.match(ok.stdout, /charts\/operator-wandb-0\.19\.2\.tgz .* sha256 /);
  t.match(ok.stdout, /OK: 6 files and 2 signatures verified/);
  const asJson = await run(["bundle", "verify", out, "--jwks", jwksFile, "--json"], {});
  t.equal(asJson.code, 0);
  t.equal((JSON.parse(asJson.stdout) as { ok: boolean; release: string }).release, "0.61.0");

  // The JWKS by URL: the server's key set (a stand-in serving the same document).
  const { createServer } = await import("node:http");
  const jwksServer = createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(readFileSync(jwksFile)));
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    jwksServer.closeAllConnections();
    jwksServer.close();
  });
  const byUrl = await run(["bundle", "verify", out, "--jwks", `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/.well-known/jwks.json`], {});
  t.equal(byUrl.code, 0, byUrl.stderr);

  const cases: [string, (f: Map<string, Buffer>) => void, RegExp][] = [
    ["a changed file", (f) => f.set("images.txt", Buffer.from("evil.example.com/app:1\n")), /images\.txt: does not match manifest\.json/],
    ["a changed spec (and its digest in a re-signed-looking manifest)", (f) => {
      const spec = Buffer.from(f.get("spec.json")!.toString("utf8").replace("wandb/local", "evil/local"));
      f.set("spec.json", spec);
      const m = JSON.parse(f.get("manifest.json")!.toString("utf8")) as { files: { path: string; sha256: string; size: number }[] };
      for (const e of m.files) if (e.path === "spec.json") Object.assign(e, { sha256: sha256(spec), size: spec.length });
      f.set("manifest.json", Buffer.from(`${JSON.stringify(m, null, 2)}\n`));
    }, /manifest\.jws: signature over manifest\.json does not match[\s\S]*spec\.jws: signature over spec\.json does not match/],
    ["a missing file", (f) => f.delete("operator/wandb-charts.yaml"), /operator\/wandb-charts\.yaml: is missing/],
    ["an extra file", (f) => f.set("charts/extra.tgz", Buffer.from("x")), /charts\/extra\.tgz: is not listed in manifest\.json/],
    ["no manifest signature", (f) => f.delete("manifest.jws"), /manifest\.jws: is missing/],
  ];
  for (const [what, change, expected] of cases) {
    const bad = join(dir, "tampered.tar.gz");
    await rewrite(out, bad, change);
    const r = await run(["bundle", "verify", bad, "--jwks", jwksFile], {});
    t.equal(r.code, 1, `${what}: exit 1`);
    t.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} FAILED verification`), `${what}: names the bundle`);
    t.match(r.stderr, expected, `${what}: names the file`);
    t.equal(r.stdout, "", `${what}: nothing claimed verified`);
  }

  // A key that did not sign it.
  const other = specSigner(generateKeyPairSync("ed25519").privateKey);
  const wrongJwks = join(dir, "other-jwks.json");
  writeFileSync(wrongJwks, JSON.stringify({ keys: [other.publicJwk] }));
  const wrong = await run(["bundle", "verify", out, "--jwks", wrongJwks], {});
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /manifest\.jws: signature over manifest\.json names kid \S+, which is not among the keys/);
  t.match(wrong.stderr, /spec\.jws: signature over spec\.json names kid/);

  const notABundle = join(dir, "not.tar.gz");
  writeFileSync(notABundle, "hello");
  const garbage = await run(["bundle", "verify", notABundle, "--jwks", jwksFile], {});
  t.equal(garbage.code, 1);
  t.match(garbage.stderr, /not\.tar\.gz: not a gzip file/);
  const usage = await run(["bundle", "verify", out], {});
  t.equal(usage.code, 2, "--jwks is required");
  t.match(usage.stderr, /--jwks FILE\|URL is required/);
});

t.test("bundle export with a failing chart source: the server's error, and no file left", async (t) => {
  const { h, url } = await serve(t);
  t.equal((await h.admin("POST", "/releases", { version: "0.61.0", chart: { url: "http://127.0.0.1:9/charts", name: "operator-wandb", version: "0.19.2" } }, "release-engineer")).statusCode, 201);
  t.equal((await h.admin("POST", "/channels/stable/promote", { release: "0.61.0" }, "release-engineer")).statusCode, 200);
  const dir = tempDir(t);
  const out = join(dir, "b.tar.gz");
  const r = await run(["bundle", "export", "--sub", "customer-1", "--channel", "stable", "--out", out], { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("admin") });
  t.equal(r.code, 1);
  t.match(r.stderr, /error: CHART_SOURCE_UNREACHABLE: .*http:\/\/127\.0\.0\.1:9\/charts/);
  t.notOk(existsSync(out), "no bundle written");
  t.same(readdirSync(dir), [], "and no temp file");
  const viewer = await run(["bundle", "export", "--sub", "customer-1", "--channel", "stable", "--out", out], { CHARTROOM_URL: url, CHARTROOM_TOKEN: h.adminToken("viewer") });
  t.equal(viewer.code, 1);
  t.match(viewer.stderr, /ROLE_REQUIRED/);
  t.same(readdirSync(dir), []);
});

t.test("bundle commands are in the help", async (t) => {
  const r = await run(["help"], {});
  t.match(r.stdout, /chartroom bundle export --sub SUB --channel CHANNEL \[--out FILE\]/);
  t.match(r.stdout, /chartroom bundle verify FILE --jwks FILE\|URL/);
});
