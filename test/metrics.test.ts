// The request-duration histogram (src/metrics.ts): the series Prometheus
// expects, the same series however often a label set is bound, and sums
// across registries as cluster mode makes them (src/cluster.ts).
import client from "prom-client";
import t from "tap";
import { createMetrics, requestObserver } from "../src/metrics.js";

const line = (text: string, name: string) => new RegExp(`^${name.replace(/[{}+.]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text)?.[1];

t.test("buckets are cumulative, +Inf is the count, the sum is in seconds", async (t) => {
  const m = createMetrics();
  const a = requestObserver(m, "/x");
  const b = requestObserver(m, "/x"); // bound elsewhere: the same series
  a("GET", 200, 0.3); // 0.0003 s
  b("GET", 200, 2); // 0.002 s
  a("GET", 200, 3000); // 3 s: beyond the last bound
  a("GET", 404, 1);
  const text = await m.registry.metrics();
  const series = (le: string) => line(text, `chartroom_http_request_duration_seconds_bucket{method="GET",route="/x",status="200",le="${le}"}`);
  t.equal(series("0.0005"), "1");
  t.equal(series("0.001"), "1");
  t.equal(series("0.0025"), "2");
  t.equal(series("2.5"), "2");
  t.equal(series("+Inf"), "3");
  t.equal(line(text, 'chartroom_http_request_duration_seconds_count{method="GET",route="/x",status="200"}'), "3");
  t.equal(Number(line(text, 'chartroom_http_request_duration_seconds_sum{method="GET",route="/x",status="200"}')), 0.0003 + 0.002 + 3);
  t.equal(line(text, 'chartroom_http_request_duration_seconds_count{method="GET",route="/x",status="404"}'), "1");
  t.match(text, /# TYPE chartroom_http_request_duration_seconds histogram/);
});

t.test("cluster mode sums the workers' series", async (t) => {
  const workers = [createMetrics(), createMetrics()];
  requestObserver(workers[0]!, "/x")("GET", 200, 1);
  requestObserver(workers[1]!, "/x")("GET", 200, 1);
  requestObserver(workers[1]!, "/x")("GET", 200, 1);
  const summed = client.AggregatorRegistry.aggregate(await Promise.all(workers.map((w) => w.registry.getMetricsAsJSON())));
  const text = await summed.metrics();
  t.equal(line(text, 'chartroom_http_request_duration_seconds_count{method="GET",route="/x",status="200"}'), "3");
  t.equal(line(text, 'chartroom_http_request_duration_seconds_bucket{method="GET",route="/x",status="200",le="0.001"}'), "3");
});
