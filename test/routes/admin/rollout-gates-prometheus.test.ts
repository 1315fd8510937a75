// Prometheus gates (docs/api.md §9) against a real Prometheus (started here
// by test/helpers/prometheus.ts, scraping an exporter this test controls),
// on SQLite and PostgreSQL: the first sample of the query, with
// {{release}} and {{channel}} filled in, compared with `pass` — passing
// ends the step, failing halts the rollout, no sample is inconclusive.
import t from "tap";
import { eachProvider } from "../../helpers/db.js";
import { testApp, type TestApp } from "../../helpers/app.js";
import { exporter, startPrometheus, untilSample, withPrometheusBinary } from "../../helpers/prometheus.js";
import { call } from "./fixtures/admin-helpers.js";
import type { RolloutDto } from "../../../src/routes/admin/dto/rollouts.js";

const ENV = { ROLLOUT_TICK_MS: "60000", GATE_INTERVAL_MS: "10" };
const QUERY = 'chartroom_test_error_ratio{release="{{release}}",channel="{{channel}}"}';

async function rollout(h: TestApp): Promise<RolloutDto> {
  const res = await call(h, "GET", "/channels/stable/rollout", { role: "viewer" });
  if (res.statusCode !== 200) throw new Error(`GET rollout: ${res.statusCode} ${res.body}`);
  return res.json() as RolloutDto;
}

function start(h: TestApp, gates: unknown[]) {
  return call(h, "POST", "/channels/stable/promote", { body: { release: "0.59.2", rollout: { steps: [{ percent: 10 }, { percent: 100, bake: "1h" }], gates } }, role: "release-engineer" });
}

await withPrometheusBinary(t, "Prometheus gates against a real Prometheus", async (t, bin) => {
  const exp = await exporter(t);
  const ratio = (v: number) => exp.set(`# TYPE chartroom_test_error_ratio gauge\nchartroom_test_error_ratio{release="0.59.2",channel="stable"} ${v}\nchartroom_test_error_ratio{release="0.58.1",channel="stable"} 0.9\n`);
  ratio(0.01);
  const prom = await startPrometheus(t, bin, exp.target);
  await untilSample(prom, 'chartroom_test_error_ratio{release="0.59.2",channel="stable"}', 0.01);

  await eachProvider(t, "pass, fail and no sample", async (t, provider) => {
    ratio(0.01);
    await untilSample(prom, 'chartroom_test_error_ratio{release="0.59.2",channel="stable"}', 0.01);
    const h = await testApp(t, { provider, env: ENV });

    // Pass: 0.01 < 0.05, the step ends (bake 0s).
    t.equal((await start(h, [{ kind: "prometheus", url: prom, query: QUERY, pass: "< 0.05" }])).statusCode, 202);
    await h.ctx.scheduler.tick();
    const passed = await rollout(h);
    t.match(passed, { state: "progressing", step: 2, gates: [{ kind: "prometheus", state: "pending" }] }, "the first sample passed: step 2, whose gate (the rollout's) starts pending");
    t.match((await h.app.inject("/metrics")).body, /chartroom_rollout_gate_evaluations_total\{kind="prometheus",outcome="pass"\} 1/, "one passing evaluation");
    await h.ctx.scheduler.tick();
    t.match(await rollout(h), { state: "progressing", step: 2, gates: [{ state: "pass", detail: "0.01 < 0.05" }] }, "step 2 bakes for an hour with its gate passing");
    t.equal((await call(h, "POST", "/channels/stable/rollout/abort", { body: { reason: "next case" }, role: "release-engineer" })).statusCode, 200);

    // No sample (a release nobody exports): inconclusive, the step holds.
    t.equal((await start(h, [{ kind: "prometheus", url: prom, query: 'chartroom_test_error_ratio{release="no-such-{{release}}"}', pass: "< 0.05" }])).statusCode, 202);
    await h.ctx.scheduler.tick();
    t.match(await rollout(h), { state: "progressing", step: 1, gates: [{ state: "inconclusive", inconclusive: 1, detail: /no sample/ }] }, "no sample: inconclusive");
    t.equal((await call(h, "POST", "/channels/stable/rollout/abort", { body: { reason: "next case" }, role: "release-engineer" })).statusCode, 200);

    // Fail: the ratio rises to 0.5 (the URL with a trailing slash works the same).
    ratio(0.5);
    await untilSample(prom, 'chartroom_test_error_ratio{release="0.59.2",channel="stable"}', 0.5);
    t.equal((await start(h, [{ kind: "prometheus", url: `${prom}/`, query: QUERY, pass: "< 0.05" }])).statusCode, 202);
    await h.ctx.scheduler.tick();
    t.match(await rollout(h), { state: "halted", step: 1, gates: [{ state: "fail", detail: "0.5 is not < 0.05" }] }, "0.5 is not < 0.05: halted");
    t.match((await h.app.inject("/metrics")).body, /chartroom_rollout_gate_evaluations_total\{kind="prometheus",outcome="fail"\} 1/);
  });
});
