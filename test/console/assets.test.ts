// The console's files (src/routes/console-routes.ts): served from the
// package under a strict Content-Security-Policy, every script and style
// same-origin, no inline script or style, no file outside dist/console.
// Also the one-time sign-in link of `chartroom console` and the page's
// values diff (console/diff.ts, DOM-free).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { testApp, ADMIN_SECRET } from "../helpers/app.js";
import { run, claims } from "../cli/fixtures/cli-harness.js";
import { CONSOLE_DIR } from "../../src/routes/console-routes.js";
import { valuesDiff } from "../../console/diff.js";
import { decodeToken, expired, expiredMessage } from "../../console/claims.js";

t.test("the console's HTML, its assets and their headers", async (t) => {
  const h = await testApp(t, { seed: false });
  for (const path of ["/console", "/console/"]) {
    const res = await h.app.inject({ method: "GET", url: path });
    t.equal(res.statusCode, 200, path);
    t.match(res.headers["content-type"], /^text\/html; charset=utf-8/);
    const csp = String(res.headers["content-security-policy"]);
    for (const d of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]) t.ok(csp.includes(d), `${path}: CSP has ${d}`);
    t.notMatch(csp, /unsafe-inline|unsafe-eval|\*|https?:/, "no inline, eval, wildcard or other origin allowed");
    t.equal(res.headers["x-content-type-options"], "nosniff");
    t.equal(res.headers["referrer-policy"], "no-referrer");
  }
  const html = (await h.app.inject({ method: "GET", url: "/console" })).body;
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)];
  t.ok(scripts.length >= 1, "the page loads a script");
  for (const [, attrs, body] of scripts) {
    t.equal(body!.trim(), "", "no inline script");
    t.match(attrs, /\bsrc="\/console\/[a-z0-9-]+\.js"/, "the script is same-origin, under /console/");
  }
  const styles = [...html.matchAll(/<link\b[^>]*rel="stylesheet"[^>]*>/gi)].map((m) => m[0]);
  t.ok(styles.length >= 1, "the page loads a stylesheet");
  for (const l of styles) t.match(l, /href="\/console\/[a-z0-9-]+\.css"/, "the stylesheet is same-origin");
  t.notMatch(html, /<style\b|\sstyle=|\son[a-z]+=|javascript:/i, "no inline style, handler attribute or javascript: URL");
  t.notMatch(html, /https?:\/\//, "no absolute URL (no CDN)");

  // Every file the page references, and every module those import, is served with its type.
  const seen = new Set<string>();
  const queue = [...html.matchAll(/(?:src|href)="(\/console\/[^"]+)"/g)].map((m) => m[1]!);
  while (queue.length) {
    const url = queue.shift()!;
    if (seen.has(url)) continue;
    seen.add(url);
    const res = await h.app.inject({ method: "GET", url });
    t.equal(res.statusCode, 200, `${url} is served`);
    const type = { js: /^text\/javascript/, css: /^text\/css/, svg: /^image\/svg\+xml$/ }[url.split(".").pop()!];
    t.ok(type, `${url}: a known kind of file`);
    t.match(res.headers["content-type"], type!, `${url} has its type`);
    t.ok(String(res.headers["content-security-policy"]).includes("script-src 'self'"), `${url} has the console's CSP`);
    if (url.endsWith(".js")) {
      t.notMatch(res.body, /\binnerHTML\b|\beval\(|new Function|localStorage|https?:\/\/[a-z]/, `${url}: no innerHTML, eval, localStorage or absolute URL`);
      for (const m of res.body.matchAll(/from "\.\/([a-z0-9-]+\.js)"/g)) queue.push(`/console/${m[1]}`);
    }
  }
  t.ok(seen.has("/console/pages.js") && seen.has("/console/session.js") && seen.has("/console/licensee.js"), "the modules were followed");
  t.same([...seen].filter((u) => u.endsWith(".js")).sort(), readdirSync(CONSOLE_DIR).filter((f) => f.endsWith(".js") && f !== "types.js").map((f) => `/console/${f}`).sort(), "every built module is reachable from the page");

  for (const url of ["/console/nope.js", "/console/..%2Fserver.js", "/console/%2e%2e%2fpackage.json", "/console/main.js.map", "/console/.tsbuildinfo"]) {
    const res = await h.app.inject({ method: "GET", url });
    t.equal(res.statusCode, 404, `${url} is 404`);
    t.notMatch(res.body, /import|"name"/, `${url}: nothing of a file`);
  }
});

t.test("sessionStorage only: the token is never put in localStorage or a cookie", async (t) => {
  const session = readFileSync(join(CONSOLE_DIR, "session.js"), "utf8");
  t.match(session, /sessionStorage\.setItem/);
  for (const f of readdirSync(CONSOLE_DIR).filter((f) => f.endsWith(".js"))) {
    t.notMatch(readFileSync(join(CONSOLE_DIR, f), "utf8"), /localStorage|document\.cookie|[?&]token=/, `${f}`);
  }
});

t.test("chartroom console prints a one-time link with the token in the fragment", async (t) => {
  const r = await run(["console", "--sub", "alice", "--role", "release-engineer"], { ADMIN_JWT_SECRET: ADMIN_SECRET, CHARTROOM_URL: "https://chartroom.example.com/" });
  t.equal(r.code, 0, r.stderr);
  const m = /^https:\/\/chartroom\.example\.com\/console\/#token=([^\s]+)\n$/.exec(r.stdout);
  t.ok(m, `a link: ${r.stdout}`);
  const c = claims(decodeURIComponent(m![1]!));
  t.equal(c.sub, "alice");
  t.same(c.roles, ["release-engineer"]);
  t.ok((c.exp as number) - Date.now() / 1000 <= 3600 && (c.exp as number) - Date.now() / 1000 > 3500, "one hour by default");
  const u = new URL(r.stdout.trim());
  t.equal(u.search, "", "nothing of the token in the query (it would reach the server)");
  t.ok(u.hash.startsWith("#token="));

  const env = await run(["console"], { CHARTROOM_TOKEN: "aaa.bbb.ccc", CHARTROOM_URL: "http://127.0.0.1:8080" });
  t.equal(env.stdout, "http://127.0.0.1:8080/console/#token=aaa.bbb.ccc\n", "CHARTROOM_TOKEN without --sub");
  const none = await run(["console"], {});
  t.equal(none.code, 2);
  t.match(none.stderr, /--sub NAME and --role ROLE are required/);
});

t.test("the values diff (console/diff.ts)", async (t) => {
  t.same(valuesDiff({ a: 1, b: { c: "x", d: [1, 2] }, gone: true }, { a: 2, b: { c: "x", d: [1, 3] }, "new/key": {} }), [
    { op: "replace", path: "/a", from: 1, to: 2 },
    { op: "replace", path: "/b/d/1", from: 2, to: 3 },
    { op: "remove", path: "/gone", from: true },
    { op: "add", path: "/new~1key", to: {} },
  ]);
  t.same(valuesDiff({ x: { y: 1 } }, { x: { y: 1 } }), [], "same values: no change");
});

t.test("the session's claims and its end (console/claims.ts, DOM-free)", async (t) => {
  const jwt = (payload: unknown) => `e30.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.sig`;
  const s = decodeToken(jwt({ sub: "ops@example.com", roles: ["admin", 7], exp: 1_800_000_000 }));
  t.same(s, { token: jwt({ sub: "ops@example.com", roles: ["admin", 7], exp: 1_800_000_000 }), sub: "ops@example.com", roles: ["admin"], exp: 1_800_000_000 }, "sub, string roles, exp");
  for (const [token, why] of [["a.b", /not a JWT/], [jwt({ roles: [] , exp: 1 }), /no sub/], [jwt({ sub: "x" }), /no exp/], ["e30.!!!.x", /not base64url JSON/]] as const) {
    t.match(decodeToken(token), why, `${token}: refused`);
  }
  const session = s as Exclude<typeof s, string>;
  t.notOk(expired(session, 1_800_000_000_000 - 1), "before exp: live");
  t.ok(expired(session, 1_800_000_000_000), "at exp: ended");
  t.equal(expiredMessage(session), "Signed out: your token expired at 2027-01-15 08:00 UTC. Sign in again with a new one.", "the sign-in says why, in UTC");
});
