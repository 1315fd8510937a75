// The monitoring files for vendors (deploy/monitoring/): the Grafana
// dashboard parses and is importable (its datasource an input, a channel
// variable), the alert rules parse and are complete, and every metric and
// label either of them names is one a real app exports on /metrics (a typo
// there is a panel or an alert that silently shows nothing). With promtool
// (Debian's `prometheus` package) the rules are also checked and
// unit-tested (deploy/monitoring/alerts.test.yaml) and every dashboard
// query is parsed as PromQL; without it this says so, and in CI it fails.
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import t from "tap";
import type { Test } from "tap";
import YAML from "yaml";
import { tempDir } from "../helpers/db.js";
import { testApp } from "../helpers/app.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const DIR = join(root, "deploy", "monitoring");
const DASHBOARD = join(DIR, "chartroom-dashboard.json");
const ALERTS = join(DIR, "alerts.yaml");
const ALERT_TESTS = join(DIR, "alerts.test.yaml");

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS = ["job", "instance", "__name__"];

/** PromQL's keywords and functions (aggregations included), as far as a query here may use them. */
const KEYWORDS = new Set(["and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left", "group_right", "inf", "nan"]);
const FUNCTIONS = new Set([
  "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values", "group",
  "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear", "resets", "changes",
  "avg_over_time", "min_over_time", "max_over_time", "sum_over_time", "count_over_time", "last_over_time", "present_over_time", "quantile_over_time",
  "histogram_quantile", "absent", "absent_over_time", "vector", "scalar", "clamp_min", "clamp_max", "clamp", "abs", "ceil", "floor", "round", "time", "timestamp", "label_replace", "label_join", "sort", "sort_desc",
]);

/** What one query names: metrics, the labels each selector matches on, and grouping labels. */
interface Named {
  metrics: string[];
  functions: string[];
  matchers: { metric: string; label: string; op: string; value: string }[];
  grouping: string[];
  unknownWords: string[];
}

/**
 * Reads the names out of a PromQL query: selectors `name{label op "v"}`,
 * `by/on/without/ignoring/group_left/group_right (labels)`, functions (a
 * word before `(`) and metric names (every other word). Not a parser: the
 * queries here are checked against a real one by promtool.
 */
function namesIn(expr: string): Named {
  const out: Named = { metrics: [], functions: [], matchers: [], grouping: [], unknownWords: [] };
  let rest = expr.replace(/\[[^\]]*\]/g, " "); // ranges and subqueries: [5m], [$__rate_interval]
  rest = rest.replace(/([a-zA-Z_:][\w:]*)?\s*\{([^}]*)\}/g, (_m, name: string | undefined, body: string) => {
    const metric = name ?? "";
    for (const [, label, op, value] of body.matchAll(/([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
      out.matchers.push({ metric, label: label!, op: op!, value: value! });
    }
    return ` ${metric} `;
  });
  rest = rest.replace(/"(?:[^"\\]|\\.)*"/g, " ");
  rest = rest.replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g, (_m, _kw, labels: string) => {
    out.grouping.push(...labels.split(",").map((l) => l.trim()).filter(Boolean));
    return " ";
  });
  for (const m of rest.matchAll(/(?<![\w.$])([a-zA-Z_:][\w:]*)(\s*\()?/g)) {
    const word = m[1]!;
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (m[2]) (FUNCTIONS.has(word) ? out.functions : out.unknownWords).push(word);
    else out.metrics.push(word);
  }
  return out;
}

t.test("namesIn reads metrics, matchers and grouping labels out of a query", async (t) => {
  const n = namesIn('sum by (route, status) (rate(a_total{route=~"/x.*",status!="200"}[$__rate_interval])) / on (route) b > 0.05 and max_over_time(c[24h] offset 1h) or vector(0)');
  t.same(n.metrics, ["a_total", "b", "c"]);
  t.same(n.functions, ["sum", "rate", "max_over_time", "vector"]);
  t.same(n.grouping, ["route", "status", "route"]);
  t.same(n.matchers.map((m) => `${m.metric}:${m.label}${m.op}${m.value}`), ['a_total:route=~/x.*', "a_total:status!=200"]);
  t.same(namesIn("sumx(a)").unknownWords, ["sumx"], "an unknown function is reported");
});

/** Metric names (with `_bucket`, `_sum`, `_count` for histograms and summaries) → their label names, from a real app. */
async function exported(t: Test): Promise<Map<string, Set<string>>> {
  const h = await testApp(t);
  // One request first, so that the request histogram has a series to read labels from.
  await h.app.inject("/healthz");
  const res = await h.app.inject("/metrics");
  t.equal(res.statusCode, 200, "/metrics answers");
  const names = new Map<string, Set<string>>();
  const add = (name: string, labels: Iterable<string>) => {
    const s = names.get(name) ?? new Set<string>(TARGET_LABELS);
    for (const l of labels) s.add(l);
    names.set(name, s);
  };
  // Labeled metrics without a series yet still print their HELP and TYPE lines.
  for (const [, name, type] of res.body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    add(name!, []);
    if (type === "histogram" || type === "summary") for (const suffix of ["_bucket", "_sum", "_count"]) add(name! + suffix, type === "histogram" && suffix === "_bucket" ? ["le"] : []);
  }
  for (const [, name] of res.body.matchAll(/^# HELP (\S+) /gm)) add(name!, []);
  // Label names: each metric's declared ones, and those seen on series lines.
  for (const m of h.ctx.metrics.registry.getMetricsAsArray()) {
    const metric = m as unknown as { labelNames?: string[]; get(): Promise<{ name: string; type: string }> };
    const declared = metric.labelNames ?? [];
    const { name, type } = await metric.get();
    for (const n of [name, ...(type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [])]) add(n, declared);
  }
  for (const [, name, body] of res.body.matchAll(/^([a-zA-Z_:][\w:]*)\{([^}]*)\} /gm)) add(name!, [...body!.matchAll(/([a-zA-Z_]\w*)="/g)].map((m) => m[1]!));
  return names;
}

/** Checks one query against the exported metrics; `where` names it in failures. */
function checkQuery(t: Test, exports: Map<string, Set<string>>, expr: string, where: string): Named {
  const n = namesIn(expr);
  t.ok(n.metrics.length > 0, `${where} names a metric`);
  t.same(n.unknownWords, [], `${where}: no unknown function`);
  for (const m of n.metrics) t.ok(exports.has(m), `${where}: ${m} is exported on /metrics`);
  for (const { metric, label } of n.matchers) {
    const labels = exports.get(metric);
    t.ok(labels?.has(label), `${where}: ${metric} has the label ${label}`);
  }
  const all = new Set(n.metrics.flatMap((m) => [...(exports.get(m) ?? [])]));
  for (const label of n.grouping) t.ok(all.has(label), `${where}: grouping label ${label} is on one of its metrics`);
  return n;
}

const dashboard: Obj = JSON.parse(readFileSync(DASHBOARD, "utf8"));
const panels = list(dashboard.panels).filter(isObj);
const queryPanels = panels.filter((p) => p.type !== "row");
const vars = list(isObj(dashboard.templating) ? dashboard.templating.list : undefined).filter(isObj);
/** Every query of the dashboard with where it is, the channel variable's included. */
const dashboardQueries: { expr: string; where: string }[] = [
  ...queryPanels.flatMap((p) => list(p.targets).filter(isObj).map((q) => ({ expr: String(q.expr ?? ""), where: `panel "${String(p.title)}" ${String(q.refId)}` }))),
];
const channelVar = vars.find((v) => v.name === "channel");
const channelQuery = /^label_values\((.+),\s*channel\)$/.exec(String(channelVar?.definition ?? ""));

const rules: Obj = YAML.parse(readFileSync(ALERTS, "utf8"));
const groups = list(rules.groups).filter(isObj);
const alerts = groups.flatMap((g) => list(g.rules).filter(isObj));

t.test("dashboard: importable into Grafana 10+, datasource from ${DS_PROMETHEUS}, a channel variable", async (t) => {
  t.equal(dashboard.title, "Chartroom");
  t.match(String(dashboard.uid), /^[\w-]{1,40}$/, "a fixed uid (re-imports replace it)");
  t.equal(dashboard.id, null, "no database id (import assigns one)");
  t.ok(Number(dashboard.schemaVersion) >= 36, "schema of Grafana 9.x/10+");
  const grafana = list(dashboard.__requires).filter(isObj).find((r) => r.id === "grafana");
  t.equal(grafana?.version, "10.0.0", "requires Grafana 10");

  const ds = vars.find((v) => v.name === "DS_PROMETHEUS");
  t.equal(ds?.type, "datasource", "DS_PROMETHEUS is a datasource variable");
  t.equal(ds?.query, "prometheus", "of Prometheus datasources");
  t.equal(channelVar?.type, "query", "channel is a query variable");
  t.ok(channelVar?.multi === true && channelVar.includeAll === true && channelVar.allValue === ".*", "channel: several at once, All matches every one");
  t.same(channelVar?.datasource, { type: "prometheus", uid: "${DS_PROMETHEUS}" }, "channel values come from the chosen datasource");
  t.ok(channelQuery, "channel values are label_values(<metric>, channel)");

  t.ok(queryPanels.length >= 20, `${queryPanels.length} panels`);
  const ids = panels.map((p) => p.id);
  t.equal(new Set(ids).size, ids.length, "panel ids are unique");
  for (const p of queryPanels) {
    const title = String(p.title);
    t.ok(["timeseries", "stat"].includes(String(p.type)), `"${title}" is a core panel (${String(p.type)})`);
    t.same(p.datasource, { type: "prometheus", uid: "${DS_PROMETHEUS}" }, `"${title}" uses \${DS_PROMETHEUS}`);
    const g = isObj(p.gridPos) ? p.gridPos : {};
    t.ok(Number(g.x) >= 0 && Number(g.w) > 0 && Number(g.x) + Number(g.w) <= 24 && Number(g.h) > 0, `"${title}" fits the 24-column grid`);
    t.ok(typeof p.description === "string" && p.description.length > 10, `"${title}" says what it shows`);
    const targets = list(p.targets).filter(isObj);
    t.ok(targets.length > 0, `"${title}" has a query`);
    for (const q of targets) t.same(q.datasource, p.datasource, `"${title}" ${String(q.refId)}: same datasource`);
  }
  // No two panels on the same cells.
  const cells = new Set<string>();
  let overlaps = 0;
  for (const p of panels) {
    const g = p.gridPos as { x: number; y: number; w: number; h: number };
    for (let x = g.x; x < g.x + g.w; x++) for (let y = g.y; y < g.y + g.h; y++) overlaps += cells.has(`${x},${y}`) ? 1 : (cells.add(`${x},${y}`), 0);
  }
  t.equal(overlaps, 0, "no panels overlap");
});

t.test("dashboard and alert rules name only metrics and labels /metrics exports", async (t) => {
  const exports = await exported(t);
  // The names the issue asks the dashboard to show (issue 17, "Observability for vendors").
  const wanted = [
    "chartroom_http_request_duration_seconds_count", "chartroom_http_request_duration_seconds_bucket", "chartroom_license_verifications_total",
    "chartroom_rollout_percent", "chartroom_fleet_licensees", "chartroom_fleet_health", "chartroom_reports_total",
    "chartroom_webhook_deliveries_total", "chartroom_webhook_pending", "chartroom_database_up", "chartroom_rate_limit_store_up",
    "chartroom_promotions_frozen", "chartroom_promotions_total",
  ];
  for (const name of wanted) t.ok(exports.has(name), `${name} is exported (the check below is not vacuous)`);
  t.notOk(exports.has("chartroom_no_such_metric"), "an unknown name is not");

  const inDashboard = new Set<string>();
  for (const { expr, where } of dashboardQueries) {
    const n = checkQuery(t, exports, expr, where);
    n.metrics.forEach((m) => inDashboard.add(m));
    // Where a metric has a channel label, the panel follows the channel variable.
    for (const m of n.metrics) {
      if (!exports.get(m)?.has("channel")) continue;
      t.ok(n.matchers.some((x) => x.metric === m && x.label === "channel" && x.op === "=~" && x.value === "$channel"), `${where}: ${m} filtered by channel=~"$channel"`);
    }
  }
  for (const name of wanted) t.ok(inDashboard.has(name), `the dashboard shows ${name}`);
  t.ok(channelQuery && exports.get(channelQuery[1]!.trim())?.has("channel"), "the channel variable reads a metric with a channel label");

  for (const r of alerts) checkQuery(t, exports, String(r.expr ?? ""), `alert ${String(r.alert)}`);
});

t.test("alert rules: groups, and each rule complete", async (t) => {
  t.ok(groups.length > 0, "rule groups");
  for (const g of groups) {
    t.match(String(g.name), /^chartroom\.[a-z]+$/, `group ${String(g.name)} is named`);
    t.ok(list(g.rules).length > 0, `group ${String(g.name)} has rules`);
  }
  const names = alerts.map((r) => String(r.alert));
  t.equal(new Set(names).size, names.length, "alert names are unique");
  t.same(names.sort(), [
    "ChartroomDatabaseDown", "ChartroomFleetRecordsRefused", "ChartroomLicenseesStuck", "ChartroomMetricsAbsent", "ChartroomPollErrorRatioHigh",
    "ChartroomPromotionsFrozenLong", "ChartroomRateLimitStoreDown", "ChartroomRolloutHalted", "ChartroomRolloutPausedLong",
    "ChartroomWebhookDeliveriesFailing", "ChartroomWebhookPendingGrowing",
  ], "the alerts the README describes");
  const readme = readFileSync(join(root, "README.md"), "utf8");
  for (const r of alerts) {
    const name = String(r.alert);
    t.match(name, /^Chartroom[A-Z][A-Za-z]+$/, `${name}: CamelCase, prefixed`);
    t.ok(typeof r.expr === "string" && r.expr.trim().length > 0, `${name}: expr`);
    t.match(String(r.for), /^(\d+[smhdw])+$/, `${name}: for is a duration`);
    t.same(Object.keys(r).filter((k) => k === "record"), [], `${name}: an alert, not a recording rule`);
    const labels = isObj(r.labels) ? r.labels : {};
    t.ok(["critical", "warning", "info"].includes(String(labels.severity)), `${name}: severity critical, warning or info`);
    const ann = isObj(r.annotations) ? r.annotations : {};
    t.ok(typeof ann.summary === "string" && ann.summary.length > 10, `${name}: summary`);
    t.ok(typeof ann.description === "string" && ann.description.length > 40, `${name}: description`);
    t.ok(readme.includes(`\`${name}\``), `${name}: described in the README`);
  }
  const db = alerts.find((r) => r.alert === "ChartroomDatabaseDown");
  t.equal(String(db?.expr).trim(), "chartroom_database_up == 0", "database down: chartroom_database_up == 0");
  t.equal(db?.for, "1m", "for a minute");
});

/** promtool, if installed: its path, or why not. */
function promtool(): { ok: true } | { ok: false; why: string } {
  const r = spawnSync("promtool", ["--version"], { encoding: "utf8" });
  return r.status === 0 ? { ok: true } : { ok: false, why: r.error ? String(r.error.message) : `exit ${String(r.status)}` };
}

const tool = promtool();
if (!tool.ok) {
  const msg = `promtool is not installed (${tool.why}): the alert rules and dashboard queries were NOT checked by promtool. Install it with \`apt-get install -y prometheus\` (Debian), as .ci/run does.`;
  if (process.env.CI) t.fail(`promtool is required in CI: ${msg}`);
  else {
    t.comment(`\n\n  !!! SKIPPED: ${msg}\n`);
    console.error(`\n!!! test/deploy/monitoring.test.ts: ${msg}\n`);
  }
}

t.test("promtool: check rules, the rules' unit tests, every dashboard query parses", { skip: tool.ok ? false : "promtool not installed (see the comment above)" }, async (t) => {
  const run = (...args: string[]) => spawnSync("promtool", args, { encoding: "utf8", cwd: root });
  const check = run("check", "rules", ALERTS);
  t.equal(check.status, 0, `promtool check rules alerts.yaml\n${check.stdout}${check.stderr}`);
  t.match(check.stdout, new RegExp(`SUCCESS: ${alerts.length} rules found`), "every rule was read");

  const unit = run("test", "rules", ALERT_TESTS);
  t.equal(unit.status, 0, `promtool test rules alerts.test.yaml\n${unit.stdout}${unit.stderr}`);
  const tests: Obj = YAML.parse(readFileSync(ALERT_TESTS, "utf8"));
  t.same(tests.rule_files, ["alerts.yaml"], "the unit tests load alerts.yaml");
  t.ok(list(tests.tests).length >= 2, "at least two alerts are unit-tested");

  // Grafana's variables are replaced as Grafana would, then each query is a recording rule.
  const dir = tempDir(t);
  const asPromql = (expr: string) => expr.replaceAll("$channel", ".*").replaceAll("$__rate_interval", "5m").replaceAll("$__range", "6h");
  const queries = [...dashboardQueries.map((q) => q.expr), ...(channelQuery ? [channelQuery[1]!] : [])];
  const file = join(dir, "dashboard-queries.yaml");
  writeFileSync(file, YAML.stringify({ groups: [{ name: "dashboard", rules: queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: asPromql(q) })) }] }));
  const parsed = run("check", "rules", file);
  t.equal(parsed.status, 0, `every dashboard query is valid PromQL\n${parsed.stdout}${parsed.stderr}`);
  t.match(parsed.stdout, new RegExp(`SUCCESS: ${queries.length} rules found`), `${queries.length} queries parsed`);

  // And promtool does refuse a bad one (the check above could fail).
  const bad = join(dir, "bad.yaml");
  writeFileSync(bad, YAML.stringify({ groups: [{ name: "bad", rules: [{ record: "x:y", expr: "sum by (a (rate(b[5m]))" }] }] }));
  t.not(run("check", "rules", bad).status, 0, "a query that does not parse is refused");
});
