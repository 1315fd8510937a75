// The console in a real browser: Debian's chromium driven by
// playwright-core against a real app listening on a port. Sign in, see the
// sample channels, start a rollout from the console (preview, confirm),
// pause it and watch its state
// change, a values diff, a licensee's reasons, a viewer without controls
// (and a forged control answered 403), sign-out. Screenshots of each page
// go under the test's output directory (CONSOLE_SCREENSHOTS overrides it).
// Without chromium the test is skipped LOUDLY, except in CI (CI=true),
// where that is a failure (.ci/run installs it).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { chromium, type Browser, type Page } from "playwright-core";
import { testApp } from "../helpers/app.js";
import { eventually } from "../helpers/eventually.js";
import { consoleLink } from "../../src/cli/main.js";
import { mintAdminToken } from "../../src/admin/admin-token.js";
import { ADMIN_SECRET } from "../helpers/app.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** chromium, or why it cannot run here. */
async function launch(): Promise<Browser | string> {
  if (!existsSync(CHROMIUM)) return `no chromium at ${CHROMIUM} (apt-get install -y chromium)`;
  const root = typeof process.getuid === "function" && process.getuid() === 0;
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: root ? ["--no-sandbox"] : [] });
}

const text = (page: Page, selector: string) => page.locator(selector).first().textContent({ timeout: 15_000 });

/** Waits until the element's text is `want` (the pages re-read the API every 3 s). */
async function waitText(page: Page, selector: string, want: string): Promise<void> {
  // A locator, not waitForFunction: the page's CSP refuses the eval that would need.
  await page.locator(selector, { hasText: new RegExp(`^${want}$`) }).first().waitFor({ timeout: 20_000 });
}

/** Waits until the page for the address's fragment is on screen (not the one before it: main.ts marks main with its hash). */
async function settled(page: Page): Promise<void> {
  await page.locator(`main[data-hash=${JSON.stringify(new URL(page.url()).hash)}]`).waitFor({ timeout: 15_000 });
}

const NAME = "the console end to end in chromium";
const browser = await launch();
if (typeof browser === "string") {
  if (process.env.CI) {
    t.fail(`chromium is required in CI: ${browser}`);
  } else {
    process.stderr.write(`\n*** skipped: ${browser} — "${NAME}" did not run ***\n\n`);
    t.test(NAME, { skip: `skipped: ${browser}` }, async () => {});
  }
} else t.test(NAME, async (t) => {
  t.teardown(() => browser.close());
  const shots = process.env.CONSOLE_SCREENSHOTS ?? t.testdirName;
  mkdirSync(shots, { recursive: true });
  const h = await testApp(t, { captureLogs: true });
  const base = await h.app.listen({ port: 0, host: "127.0.0.1" });
  const origin = new URL(base).origin;
  const engineer = h.adminToken("release-engineer", "rel@example.com");
  const viewer = h.adminToken("viewer", "view@example.com");

  // A release with other values than 0.60.0, for the diff.
  const created = await h.admin("POST", "/releases", {
    version: "0.61.0",
    chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.19.2" },
    values: { app: { resources: { requests: { cpu: "2", memory: "2Gi" } } }, weave: { install: true }, parquet: { enabled: true } },
    notes: "W&B Server 0.61.0",
  }, "release-engineer");
  t.equal(created.statusCode, 201, created.body);

  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems: string[] = [];
  const requests: string[] = [];
  // Refusals are checked by their responses below; every other console error (a CSP violation: "Refused to …") is a problem.
  const refused: string[] = [];
  page.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text()); });
  page.on("response", (r) => { if (r.status() >= 400) refused.push(`${r.status()} ${new URL(r.url()).pathname}`); });
  page.on("pageerror", (e) => problems.push(e.message));
  page.on("request", (r) => requests.push(r.url()));

  await t.test("sign in with a pasted token, by keyboard", async (t) => {
    await page.goto(`${base}/console`);
    await page.locator("textarea#token").waitFor();
    await page.screenshot({ path: join(shots, "signin.png") });
    t.ok(await page.evaluate("document.activeElement?.id === 'token'"), "the token field has the focus");
    // A token of the right shape the server does not accept (signed with another secret).
    const [head, body] = engineer.split(".");
    await page.locator("textarea#token").fill(`${head}.${body}.${"A".repeat(43)}`);
    await page.locator("button", { hasText: "Sign in" }).click();
    await page.locator(".signin .error", { hasText: "the server refused this token" }).waitFor();
    t.equal(await page.evaluate("sessionStorage.length"), 0, "a refused token is not kept");
    await page.locator("textarea#token").fill("");
    await page.keyboard.insertText(engineer);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.locator("h1", { hasText: "Channels" }).waitFor();
    t.equal(await text(page, '[data-test="identity"]'), "rel@example.com · release-engineer", "sub and roles from the token");
    t.match(await text(page, "header"), /until \d{4}-\d\d-\d\d \d\d:\d\d UTC/, "the session's expiry is shown");
    t.equal(await page.evaluate("sessionStorage.getItem('chartroom.adminToken')"), engineer, "the token is in sessionStorage");
    t.equal(await page.evaluate("localStorage.length"), 0, "and not in localStorage");
  });

  await t.test("the sample channels, then a rollout appears", async (t) => {
    for (const [name, version] of [["stable", "0.58.1"], ["beta", "0.59.2"], ["unstable", "0.60.0"]] as const) {
      t.match(await text(page, `[data-test="channel-${name}"]`), new RegExp(`Release: ${version.replace(/\./g, "\\.")}`), `${name} at ${version}`);
    }
    t.equal(await page.locator('[data-test="promote"]').count(), 0, "no Promote on the channels page");
  });

  await t.test("start a rollout from the channel page: preview, then confirm", async (t) => {
    await page.locator('a[href="#/channel/stable"]').click();
    await page.locator("h1", { hasText: "Channel stable" }).waitFor();
    await page.locator('button[data-control="promote"]').click();
    const form = page.locator('[data-test="promote-form"]');
    await form.locator('select[name="release"] option[value="0.59.2"]').waitFor({ state: "attached" });
    t.equal(await page.evaluate("document.activeElement?.getAttribute('name')"), "release", "the release select has the focus");
    // The helper seeds the sample channels without their policies (test/helpers/app.ts): no upstream to preselect.
    t.equal(await form.locator('select[name="from"]').inputValue(), "", "no from preselected without a policy");
    await form.locator('select[name="release"]').selectOption("0.59.2");
    await form.locator('select[name="from"]').selectOption("beta");
    await form.locator('input[name="steps"]').fill("50:1h,10:1h,100");
    await form.locator('textarea[name="reason"]').fill("GA");
    const sent = requests.length;
    await form.locator("button", { hasText: "Preview" }).click();
    t.match(await text(page, '[data-test="promote-status"]'), /step 2 "10:1h": the percents must increase/, "the steps are checked in the page");
    t.notOk(requests.slice(sent).some((u) => u.includes("/promote")), "nothing sent for bad steps");
    await form.locator('input[name="steps"]').fill("10:1h,50:1h,100");
    await form.locator('input[name="steps"]').press("Enter");
    await page.locator("button", { hasText: "Confirm promote" }).waitFor();
    const preview = await text(page, '[data-test="promote-preview"]');
    t.match(preview, /promote 0\.58\.1 → 0\.59\.2 on stable; \d+ licensees? affected/, "the decision and the licensees affected");
    t.match(preview, /In 3 steps: 10% \(bake 1h\), 50% \(bake 1h\), 100%/, "the steps");
    t.equal((await h.admin("GET", "/channels/stable")).json().rollout, null, "the preview started nothing");
    await page.screenshot({ path: join(shots, "channel-promote.png"), fullPage: true });
    await page.locator("button", { hasText: "Confirm promote" }).click();
    await waitText(page, '[data-test="rollout-state"]', "progressing");
    const r = (await h.admin("GET", "/channels/stable/rollout")).json();
    t.match(r, { release: { version: "0.59.2" }, startedBy: "rel@example.com", reason: "GA", steps: [{ percent: 10, bake: "1h" }, { percent: 50, bake: "1h" }, { percent: 100 }] }, "the server has the rollout");
    t.equal(await page.locator('[data-test="promote"]').count(), 0, "no Promote while a rollout is active");
    await page.locator('a[href="#/channels"]').first().click();
    await waitText(page, '[data-test="channel-stable"] [data-test="rollout-state"]', "progressing");
    t.match(await text(page, '[data-test="channel-stable"]'), /→ 0\.59\.2.*10% · step 1\/3/, "the rollout's target, percent and step");
    t.equal(await page.locator('[data-test="channel-stable"] progress').getAttribute("value"), "10", "the progress bar");
    await page.screenshot({ path: join(shots, "channels.png"), fullPage: true });
  });

  await t.test("pause the rollout from the channel page", async (t) => {
    await page.locator('a[href="#/channel/stable"]').click();
    await page.locator("h1", { hasText: "Channel stable" }).waitFor();
    await waitText(page, '[data-test="rollout-state"]', "progressing");
    t.equal(await page.locator("button[data-control]").count(), 3, "pause, advance, abort");
    t.match(await text(page, ".timeline"), /rollout-start|promote|0\.58\.1/, "the history timeline");
    t.match(await text(page, ".card h3 + p"), /^no gates$/, "a rollout started from the console has no gates");
    await page.locator('button[data-control="pause"]').click();
    const reason = page.locator('textarea[name="reason"]');
    await reason.waitFor();
    t.equal(await page.evaluate("document.activeElement?.getAttribute('name')"), "reason", "the reason has the focus");
    await page.keyboard.press("Escape");
    await page.locator("form.confirm").waitFor({ state: "hidden" });
    t.equal(await page.evaluate("document.activeElement?.getAttribute('data-control')"), "pause", "Escape closes the confirmation, the focus back on Pause");
    await page.keyboard.press("Enter");
    await reason.waitFor();
    t.equal(await page.evaluate("document.activeElement?.getAttribute('name')"), "reason", "Enter on Pause opens it again, by keyboard");
    await page.locator("button", { hasText: "Confirm pause" }).click();
    t.equal((await h.admin("GET", "/channels/stable/rollout")).json().state, "progressing", "no reason: nothing sent");
    await reason.fill("error rate up at acme");
    await page.screenshot({ path: join(shots, "channel-confirm.png"), fullPage: true });
    await page.locator("button", { hasText: "Confirm pause" }).click();
    await waitText(page, '[data-test="rollout-state"]', "paused");
    const r = (await h.admin("GET", "/channels/stable/rollout")).json();
    t.equal(r.state, "paused", "the server has it paused");
    const audit = (await h.admin("GET", "/audit?limit=5")).json();
    t.ok(JSON.stringify(audit).includes("error rate up at acme") && JSON.stringify(audit).includes("rel@example.com"), "the reason and the actor are in the audit log");
    t.same(await page.locator("button[data-control]").evaluateAll((bs) => bs.map((b) => b.getAttribute("data-control"))), ["resume", "advance", "abort"], "the controls of a paused rollout");
    await page.screenshot({ path: join(shots, "channel.png"), fullPage: true });
  });

  await t.test("a values diff between two releases", async (t) => {
    await page.locator('nav a[href="#/releases"]').click();
    await page.locator('[data-test="diff-form"]').waitFor();
    t.match(await text(page, "table"), /0\.61\.0[\s\S]*0\.60\.0[\s\S]*0\.59\.2[\s\S]*0\.58\.1/, "the releases, newest first");
    await page.screenshot({ path: join(shots, "releases.png"), fullPage: true });
    await page.selectOption('select[name="a"]', "0.60.0");
    await page.selectOption('select[name="b"]', "0.61.0");
    await page.locator("button", { hasText: "Compare" }).click();
    await page.locator('[data-test="diff"]').waitFor();
    const rows = await page.evaluate(`Array.from(document.querySelectorAll('[data-test="diff"] tbody tr'), (tr) => Array.from(tr.children, (td) => td.textContent))`);
    t.same(rows, [
      ["replace", "/app/resources/requests/cpu", '"1"', '"2"'],
      ["add", "/parquet/enabled", "", "true"],
    ], "the changed and added values");
    await page.screenshot({ path: join(shots, "diff.png"), fullPage: true });
    await page.goto(`${base}/console/#/diff/0.58.1/0.59.2`);
    await page.locator('[data-test="diff-empty"]').waitFor();
    t.pass("two releases with the same values: said so");
  });

  await t.test("yank a release with a reason", async (t) => {
    await page.goto(`${base}/console/#/release/0.61.0`);
    await page.locator("h1", { hasText: "Release 0.61.0" }).waitFor();
    await page.locator('button[data-control="yank"]').click();
    await page.locator('textarea[aria-label^="reason to yank"]').fill("broken migration");
    await page.locator("button", { hasText: "Confirm yank" }).click();
    await page.locator('[data-test="yanked"]').waitFor();
    t.match(await text(page, '[data-test="yanked"]'), /by rel@example\.com: broken migration/, "the yank, its actor and reason");
    const r = (await h.admin("GET", "/releases/0.61.0")).json();
    t.equal(r.yanked, true, "the server has it yanked");
    t.equal(r.yankReason, "broken migration");
    t.equal(await page.locator('button[data-control="yank"]').count(), 0, "no yank of a yanked release");
  });

  await t.test("required marks: shown only where the server's releases have them", async (t) => {
    const r = (await h.admin("GET", "/releases/0.60.0")).json();
    await page.goto(`${base}/console/#/release/0.60.0`);
    await page.locator("h1", { hasText: "Release 0.60.0" }).waitFor();
    await settled(page);
    if (!("required" in r)) {
      t.equal(await page.locator('[data-test="required-control"]').count(), 0, "no required control: this server's releases have no required field (no POST /releases/:ref/required)");
      return;
    }
    await page.locator('button[data-control="require"]').click();
    const form = page.locator('[data-test="required-control"] form');
    await form.locator('textarea[name="reason"]').fill("schema migration 12");
    await form.locator("button", { hasText: "Confirm mark required" }).click();
    await page.locator('[data-test="required"]').waitFor();
    t.match(await text(page, '[data-test="required"]'), /schema migration 12/, "the mark and its reason");
    t.equal((await h.admin("GET", "/releases/0.60.0")).json().required, true, "the server has it required");
    t.equal(await page.locator('button[data-control="unrequire"]').count(), 1, "and offers to unmark it");
  });

  await t.test("a licensee and its reasons", async (t) => {
    await page.locator('nav a[href="#/licensee"]').click();
    await page.locator('input[name="sub"]').fill("acme");
    await page.selectOption('select[name="channel"]', "stable");
    await page.locator("button", { hasText: "What does it get?" }).click();
    await page.locator('[data-test="resolved"]').waitFor();
    const want = (await h.admin("GET", "/resolve?sub=acme&channel=stable")).json();
    const shown = await text(page, '[data-test="resolved"]');
    t.ok(shown?.includes(`acme on stable gets ${want.release.version}`), shown ?? "");
    t.ok(shown?.includes(want.etag), "the etag");
    t.ok(want.reasons.length >= 2, "the rollout is one of the reasons");
    for (const r of want.reasons) t.ok(shown?.includes(`${r.rule}: ${r.detail}`), `reason ${r.rule}`);
    t.match(page.url(), /#\/licensee\/acme\/stable$/, "the page's address names the licensee (in the fragment)");
    t.match(await text(page, '[data-test="licensee-fleet"]'), /acme has not polled yet/, "not in the fleet yet (one lookup, not the fleet)");
    t.match(await text(page, '[data-test="licensee-reports"]'), /none yet/, "no reports");
    t.equal(await page.locator('[data-test="licensee-licenses"] button[data-control]').count(), 0, "a release engineer does not issue or revoke licenses");
    await page.screenshot({ path: join(shots, "licensee.png"), fullPage: true });
  });

  await t.test("the fleet: distribution, search, a licensee's link", async (t) => {
    for (const [sub, channel] of [["acme", "stable"], ["bigbank", "beta"], ["initech", "beta"]] as const) {
      t.equal((await h.poll(h.license({ sub, channel }))).statusCode, 200, `${sub} polls ${channel}`);
    }
    const seen = await eventually(async () => (await h.admin("GET", "/fleet")).json().items.length >= 3 || undefined, { within: 10_000, every: 100 });
    t.ok(seen.ok, `the fleet has the polls (${seen.summary})`);
    await page.locator('nav a[href="#/fleet"]').click();
    await page.locator('[data-test="fleet"]').waitFor();
    t.match(await text(page, '[data-test="distribution-beta"]'), /beta · 2 licensees[\s\S]*0\.59\.2 \(current\)/, "beta: two licensees on its current release");
    t.equal(await page.locator('[data-test="distribution-beta"] meter').getAttribute("value"), "2", "drawn as a meter");
    await page.screenshot({ path: join(shots, "fleet.png"), fullPage: true });
    await page.locator('input[name="q"]').fill("bigb");
    await page.keyboard.press("Enter");
    await page.locator('[data-test="fleet"] tbody tr').first().waitFor();
    await page.waitForURL(/#\/fleet\/bigb\/$/);
    await settled(page);
    t.same(await page.locator('[data-test="fleet"] tbody tr td:first-child').allTextContents(), ["bigbank"], "the search finds one licensee");
    t.equal(await text(page, '[data-test="fleet-count"]'), "1 licensee match", "counted by the server");
    await page.locator('[data-test="fleet"] a', { hasText: "bigbank" }).click();
    await page.locator('[data-test="resolved"]').waitFor();
    t.match(await text(page, '[data-test="resolved"]'), /bigbank on beta gets 0\.59\.2/, "its row links to what it gets and why");
    t.match(await text(page, '[data-test="licensee-fleet"]'), /On beta, last served 0\.59\.2, last seen .* UTC, 1 poll\. +No health report\./, "its fleet entry");
    t.match(await text(page, '[data-test="licensee-overrides"]'), /none/, "no per-license values");
  });

  await t.test("the fleet: searched and paged by the server", async (t) => {
    const at = Date.now();
    const subs = Array.from({ length: 60 }, (_, i) => `zz-${String(i).padStart(2, "0")}`);
    await h.ctx.store.fleet.recordMany(subs.map((sub) => ({ sub, channel: "stable", releaseId: null, releaseVersion: null, jti: null, licenseExp: null, userAgent: null, firstSeenAt: at, lastSeenAt: at, polls: 1 })));
    await page.locator('nav a[href="#/fleet"]').click();
    await page.locator('input[name="q"]').fill("ZZ-");
    await page.keyboard.press("Enter");
    await page.waitForURL(/#\/fleet\/ZZ-\/$/);
    await settled(page);
    t.same(await page.locator('[data-test="fleet"] tbody tr td:first-child').allTextContents(), subs.slice(0, 50), "the first page: 50, by sub");
    t.equal(await text(page, '[data-test="fleet-count"]'), "60 licensees match", "the whole search counted");
    await page.locator("a", { hasText: "Next page" }).click();
    await page.waitForURL(/#\/fleet\/ZZ-\/.+$/);
    await settled(page);
    t.same(await page.locator('[data-test="fleet"] tbody tr td:first-child').allTextContents(), subs.slice(50), "the next page: the other 10");
    t.equal(await page.locator("a", { hasText: "Next page" }).count(), 0, "no next page after the last");

    // LIKE's wildcards are searched as themselves.
    await h.ctx.store.fleet.recordMany(["acme_corp", "acmeXcorp"].map((sub) => ({ sub, channel: "stable", releaseId: null, releaseVersion: null, jti: null, licenseExp: null, userAgent: null, firstSeenAt: at, lastSeenAt: at, polls: 1 })));
    await page.locator('input[name="q"]').fill("acme_");
    await page.keyboard.press("Enter");
    await page.waitForURL(/#\/fleet\/acme_\/$/);
    await settled(page);
    t.same(await page.locator('[data-test="fleet"] tbody tr td:first-child').allTextContents(), ["acme_corp"], "acme_ finds acme_corp, not acmeXcorp");
  });

  await t.test("a licensee's reports and licenses; an admin issues and revokes, with a reason and a confirmation", async (t) => {
    const bigbank = h.license({ sub: "bigbank", channel: "beta", jti: "lic-bigbank-elsewhere" });
    // Its poll with that license, as the fleet recorder writes it (it writes a licensee at most once a minute).
    const release = (await h.admin("GET", "/releases/0.59.2")).json() as { id: string };
    const at = Date.now();
    await h.ctx.store.fleet.recordMany([{ sub: "bigbank", channel: "beta", releaseId: release.id, releaseVersion: "0.59.2", jti: "lic-bigbank-elsewhere", licenseExp: null, userAgent: null, firstSeenAt: at, lastSeenAt: at, polls: 1 }]);
    const report = await h.app.inject({ method: "POST", url: "/api/v1/operator/report", headers: { authorization: `Bearer ${bigbank}`, "content-type": "application/json" }, payload: { release: "0.59.2", state: "healthy", message: "all pods ready" } });
    t.equal(report.statusCode, 202, report.body);
    const actx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const apage = await actx.newPage();
    apage.on("pageerror", (e) => problems.push(e.message));
    apage.on("console", (m) => { if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(m.text()); });
    apage.on("request", (r) => requests.push(r.url()));
    await apage.goto(consoleLink(base, h.adminToken("admin", "ops@example.com")));
    await apage.locator("h1", { hasText: "Channels" }).waitFor();
    await apage.goto(`${base}/console/#/licensee/bigbank/beta`);
    await apage.locator('[data-test="licensee-reports"] tbody tr').first().waitFor();
    t.same(await apage.locator('[data-test="licensee-reports"] tbody tr td').allTextContents().then((c) => c.slice(1)), ["0.59.2", "healthy", "all pods ready"], "its last report");
    t.match(await text(apage, '[data-test="licensee-fleet"]'), /On beta, last served 0\.59\.2.*Newest health report: healthy/, "its fleet entry, with the newest report");
    t.equal(await apage.locator('tr[data-jti="lic-bigbank-elsewhere"] button[data-control="revoke"]').count(), 1, "the license it polled with (issued elsewhere) can be revoked");

    // Issue: a channel, a reason (kept as the notes), a confirmation; the token shown once.
    await apage.locator('button[data-control="issue"]').click();
    const issue = apage.locator('[data-test="licensee-licenses"] > .controls form');
    t.equal(await apage.evaluate("document.activeElement?.getAttribute('name')"), "reason", "the reason has the focus");
    await issue.locator('select[name="issue-channel"]').selectOption("beta");
    await issue.locator("button", { hasText: "Confirm issue" }).click();
    t.same((await h.admin("GET", "/licenses?sub=bigbank", undefined, "viewer")).json().items, [], "no reason: nothing issued");
    await issue.locator('textarea[name="reason"]').fill("renewal 2027");
    await apage.screenshot({ path: join(shots, "licensee-issue.png"), fullPage: true });
    await issue.locator("button", { hasText: "Confirm issue" }).click();
    const shown = apage.locator('[data-test="issued-token"]');
    await shown.waitFor();
    const token = await shown.inputValue();
    t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, "the new license token, shown once");
    const listed = (await h.admin("GET", "/licenses?sub=bigbank", undefined, "viewer")).json().items as { jti: string; channel: string; notes: string; issuedBy: string }[];
    t.equal(listed.length, 1, "the server issued one");
    t.match(listed[0], { channel: "beta", notes: "renewal 2027", issuedBy: "ops@example.com" }, "on beta, the reason as its notes, by the admin");
    t.equal((await h.poll(token)).statusCode, 200, "the token is a working license");
    await apage.locator("button", { hasText: "Done" }).click();
    const row = apage.locator(`tr[data-jti="${listed[0]!.jti}"]`);
    await row.waitFor();
    t.match(await row.textContent(), /beta.*valid.*renewal 2027/, "listed, valid");

    // Revoke it, with a reason.
    await row.locator('button[data-control="revoke"]').click();
    await row.locator('textarea[name="reason"]').fill("sent to the wrong person");
    await row.locator("button", { hasText: "Confirm revoke" }).click();
    await apage.locator(`tr[data-jti="${listed[0]!.jti}"] .tag.bad`, { hasText: "revoked" }).waitFor();
    t.match(await apage.locator(`tr[data-jti="${listed[0]!.jti}"]`).textContent(), /revoked .* by ops@example\.com: sent to the wrong person/, "revoked, by whom and why");
    t.equal(await apage.locator(`tr[data-jti="${listed[0]!.jti}"] button[data-control="revoke"]`).count(), 0, "no revoke of a revoked license");
    t.match((await h.admin("GET", "/licenses?sub=bigbank", undefined, "viewer")).json().items[0], { revoked: true, revokeReason: "sent to the wrong person" }, "the server has it revoked");
    await apage.screenshot({ path: join(shots, "licensee-admin.png"), fullPage: true });
    await actx.close();
  });

  await t.test("the freeze banner on the channels and a channel, live", async (t) => {
    await page.goto(`${base}/console/#/channels`);
    await page.locator('[data-test="channel-stable"]').waitFor();
    t.equal(await page.locator('[data-test="freeze"]').count(), 0, "no freeze: no banner");
    const until = new Date(Date.now() + 3_600_000).toISOString();
    t.equal((await h.admin("PUT", "/freeze", { reason: "incident 4711", until })).statusCode, 200, "an admin freezes promotions");
    await page.locator('[data-test="freeze"]').waitFor({ timeout: 15_000 });
    t.match(await text(page, '[data-test="freeze"]'), /Promotions are frozen\. incident 4711 — admin@example\.com, since .* UTC, until .* UTC/, "the channels page shows it on its next read: reason, who, since, until");
    await page.screenshot({ path: join(shots, "channels-frozen.png"), fullPage: true });
    await page.goto(`${base}/console/#/channel/stable`);
    await page.locator("h1", { hasText: "Channel stable" }).waitFor();
    t.match(await text(page, '[data-test="freeze"]'), /incident 4711/, "and a channel's page");
    t.equal((await h.admin("DELETE", "/freeze", { reason: "resolved" })).statusCode, 200, "the freeze is lifted");
    await page.locator('[data-test="freeze"]').waitFor({ state: "detached", timeout: 15_000 });
    t.pass("the banner goes on the next read");
  });

  await t.test("a gate's state on the channel page, live: a failed report halts the rollout", async (t) => {
    const started = await h.admin("POST", "/channels/beta/promote", {
      release: "0.60.0", reason: "beta soak",
      rollout: { steps: [{ percent: 10, bake: "1h" }, { percent: 100 }], include: ["bigbank"], gates: [{ kind: "reports", minHealthy: 1, maxFailedRatio: 0.2 }] },
    }, "release-engineer");
    t.equal(started.statusCode, 202, started.body);
    await page.goto(`${base}/console/#/channel/beta`);
    await waitText(page, '[data-test="rollout-state"]', "progressing");
    t.match(await text(page, '[data-test="gates"]'), /^reports: pending/, "pending before any report");
    t.match(await text(page, "h3"), /Gates of step 1/, "the gates of the current step");
    const report = await h.app.inject({ method: "POST", url: "/api/v1/operator/report", headers: { authorization: `Bearer ${h.license({ sub: "bigbank", channel: "beta" })}`, "content-type": "application/json" }, payload: { release: "0.60.0", state: "failed", message: "CrashLoopBackOff" } });
    t.equal(report.statusCode, 202, "bigbank (in the cohort) reports failed");
    await h.ctx.scheduler.tick();
    await waitText(page, '[data-test="rollout-state"]', "halted");
    await page.locator('[data-test="gates"] li[data-gate-state="fail"]').waitFor();
    t.match(await text(page, '[data-test="gates"]'), /^reports: fail .*1 failed/, "the page shows the gate failed, by itself");
    t.same(await page.locator("button[data-control]").evaluateAll((bs) => bs.map((b) => b.getAttribute("data-control"))), ["resume", "advance", "abort"], "the controls of a halted rollout");
    await page.screenshot({ path: join(shots, "channel-halted.png"), fullPage: true });
  });

  await t.test("a promotion the channel moved under is refused, not overwritten (expectedCurrent)", async (t) => {
    const next = await h.admin("POST", "/releases", {
      version: "0.62.0", chart: { url: "https://charts.wandb.ai", name: "operator-wandb", version: "0.19.3" }, values: {}, notes: "W&B Server 0.62.0",
    }, "release-engineer");
    t.equal(next.statusCode, 201, next.body);
    await page.goto(`${base}/console/#/channel/unstable`);
    await page.locator("h1", { hasText: "Channel unstable" }).waitFor();
    await page.locator('button[data-control="promote"]').click();
    const form = page.locator('[data-test="promote-form"]');
    await form.locator('select[name="release"] option[value="0.62.0"]').waitFor({ state: "attached" });
    t.equal(await form.locator('select[name="release"] option[value="0.61.0"]').count(), 0, "a yanked release is not offered");
    await form.locator('select[name="release"]').selectOption("0.62.0");
    await form.locator('textarea[name="reason"]').fill("next");
    await form.locator("button", { hasText: "Preview" }).click();
    await page.locator("button", { hasText: "Confirm promote" }).waitFor();
    t.match(await text(page, '[data-test="promote-preview"]'), /promote 0\.60\.0 → 0\.62\.0 on unstable/, "the preview");
    // Meanwhile someone else moves the channel.
    const moved = await h.admin("POST", "/channels/unstable/promote", { release: "0.59.2", allowDowngrade: true, reason: "hotfix elsewhere" }, "release-engineer");
    t.equal(moved.statusCode, 200, moved.body);
    await page.locator("button", { hasText: "Confirm promote" }).click();
    await page.locator('[data-test="promote-status"]', { hasText: "PROMOTION_CONFLICT" }).waitFor({ timeout: 15_000 });
    t.match(await text(page, '[data-test="promote-status"]'), /^promote refused: PROMOTION_CONFLICT: /, "the code and the message");
    t.equal((await h.admin("GET", "/channels/unstable")).json().release.version, "0.59.2", "the other change stands");
  });

  await t.test("the audit log, filtered", async (t) => {
    await page.locator('nav a[href="#/audit"]').click();
    await page.locator('[data-test="audit"]').waitFor();
    await page.locator('input[name="actor"]').fill("rel@example.com");
    await page.locator('input[name="since"]').fill("2000-01-01T00:00:00Z");
    await page.locator("button", { hasText: "Filter" }).click();
    await page.waitForURL(/#\/audit\/actor=rel%40example\.com&since=2000/);
    await settled(page);
    await page.locator('[data-test="audit"] tbody tr').first().waitFor();
    const actors = await page.locator('[data-test="audit"] tbody tr td:nth-child(2)').allTextContents();
    t.ok(actors.length >= 1 && actors.every((a) => a === "rel@example.com"), `only the console's actor: ${actors.join(", ")}`);
    t.match(await text(page, '[data-test="audit"] tbody'), /rollout\.pause|pause/, "the pause is there");
    await page.screenshot({ path: join(shots, "audit.png"), fullPage: true });
  });

  await t.test("readable on a phone", async (t) => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${base}/console/#/channels`);
    await page.locator('[data-test="channel-stable"]').waitFor();
    const overflow = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
    t.ok(overflow <= 0, `no horizontal scrolling (${overflow}px over)`);
    await page.screenshot({ path: join(shots, "channels-phone.png"), fullPage: true });
    for (const [hash, shot] of [["#/channel/stable", "channel-phone"], ["#/licensee/bigbank/beta", "licensee-phone"], ["#/release/0.60.0", "release-phone"]] as const) {
      await page.goto(`${base}/console/${hash}`);
      await settled(page);
      const over = await page.evaluate<number>("document.documentElement.scrollWidth - window.innerWidth");
      t.ok(over <= 0, `${hash}: no horizontal scrolling (${over}px over)`);
      await page.screenshot({ path: join(shots, `${shot}.png`), fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  await t.test("sign-out clears the session", async (t) => {
    await page.locator("#signout").click();
    await page.locator("textarea#token").waitFor();
    t.equal(await page.evaluate("sessionStorage.length"), 0, "sessionStorage is empty");
    await page.reload();
    await page.locator("textarea#token").waitFor();
    t.equal(await page.locator('[data-test="identity"]').count(), 0, "the next load shows the sign-in");
  });

  await t.test("the session ends at the token's exp: signed out, and told why", async (t) => {
    const ectx = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const epage = await ectx.newPage();
    epage.on("pageerror", (e) => problems.push(e.message));
    const short = mintAdminToken(ADMIN_SECRET, { sub: "brief@example.com", roles: ["viewer"], ttlSec: 4, audience: "chartroom-admin" });
    await epage.goto(consoleLink(base, short));
    await epage.locator("h1", { hasText: "Channels" }).waitFor();
    t.equal(await text(epage, '[data-test="identity"]'), "brief@example.com · viewer", "signed in");
    await epage.locator(".signin .error", { hasText: "your token expired at" }).waitFor({ timeout: 15_000 });
    t.match(await text(epage, ".signin .error"), /^Signed out: your token expired at \d{4}-\d\d-\d\d \d\d:\d\d UTC\. Sign in again with a new one\.$/, "the sign-in says why");
    t.equal(await epage.evaluate("sessionStorage.length"), 0, "nothing of the session is left");
    t.equal(await epage.locator('[data-test="identity"]').count(), 0, "no page of the console behind it");
    await epage.screenshot({ path: join(shots, "expired-phone.png"), fullPage: true });
    // A tab coming back with an expired token in its sessionStorage: the same.
    await epage.evaluate(`sessionStorage.setItem("chartroom.adminToken", ${JSON.stringify(short)})`);
    await epage.goto(`${base}/console/#/channel/stable`);
    await epage.locator(".signin .error", { hasText: "your token expired at" }).waitFor();
    t.equal(await epage.evaluate("sessionStorage.length"), 0, "an expired token found at load is cleared");
    await ectx.close();
  });

  await t.test("a viewer, signed in by the one-time link, sees no controls; a forged control is 403", async (t) => {
    const vctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const vpage = await vctx.newPage();
    vpage.on("pageerror", (e) => problems.push(e.message));
    vpage.on("request", (r) => requests.push(r.url()));
    await vpage.goto(consoleLink(base, viewer));
    await vpage.locator("h1", { hasText: "Channels" }).waitFor();
    t.notMatch(vpage.url(), /token/, "the token is gone from the address bar");
    // The link's entry was replaced: back is the blank tab, forward the console without the token.
    await vpage.goBack();
    t.equal(vpage.url(), "about:blank", "the entry before is the blank tab");
    await vpage.goForward();
    await vpage.locator("h1", { hasText: "Channels" }).waitFor();
    t.equal(vpage.url(), `${base}/console/#/channels`, "and the link's entry now has no token");
    t.equal(await text(vpage, '[data-test="identity"]'), "view@example.com · viewer");
    await vpage.goto(`${base}/console/#/channel/stable`);
    await waitText(vpage, '[data-test="rollout-state"]', "paused");
    t.equal(await vpage.locator('[data-test="controls"], button[data-control]').count(), 0, "no controls for a viewer");
    await vpage.screenshot({ path: join(shots, "channel-viewer.png"), fullPage: true });
    await vpage.goto(`${base}/console/#/release/0.60.0`);
    await vpage.locator("h1", { hasText: "Release 0.60.0" }).waitFor();
    t.equal(await vpage.locator("button[data-control]").count(), 0, "no yank for a viewer");
    await vpage.goto(`${base}/console/#/licensee/bigbank/beta`);
    await vpage.locator('[data-test="licensee-licenses"] tbody tr').first().waitFor();
    t.equal(await vpage.locator("button[data-control]").count(), 0, "no issue or revoke for a viewer");
    // A control sent by hand with the viewer's token (from the page's own session).
    const forged = await vpage.evaluate<{ status: number; body: { code: string } }>(`(async () => {
      const res = await fetch("/api/v1/admin/channels/stable/rollout/resume", {
        method: "POST",
        headers: { authorization: "Bearer " + sessionStorage.getItem("chartroom.adminToken"), "content-type": "application/json" },
        body: JSON.stringify({ reason: "forged" }),
      });
      return { status: res.status, body: await res.json() };
    })()`);
    t.equal(forged.status, 403, "the server refuses the viewer");
    t.equal(forged.body.code, "ROLE_REQUIRED");
    t.equal((await h.admin("GET", "/channels/stable/rollout")).json().state, "paused", "still paused");
    await vctx.close();
  });

  t.same(problems, [], "no script error and no CSP violation in the console");
  t.same([...new Set(refused)], ["401 /api/v1/admin/channels", "404 /api/v1/admin/channels/stable/rollout", "404 /api/v1/admin/fleet/acme", "404 /api/v1/admin/licenses/acme/values", "404 /api/v1/admin/licenses/bigbank/values", "404 /api/v1/admin/channels/unstable/rollout", "409 /api/v1/admin/channels/unstable/promote"], "the only refusals: the bad token, channels before their first rollout, a licensee not in the fleet yet, licensees without per-license values, the promotion refused for a conflict");
  t.same(requests.filter((u) => new URL(u).origin !== origin), [], "every request went to the server itself");
  t.same(requests.filter((u) => u.includes(engineer) || u.includes(viewer) || /token=/.test(u)), [], "no token in a URL the browser sent");
  const logged = h.logs.join("\n");
  t.ok(logged.includes("/console"), "the requests were logged");
  t.notOk(logged.includes(engineer) || logged.includes(viewer), "no token in the server's logs");
  await ctx.close();
});
