-- wrk script of bench/run.mjs: every request the same, with fixed headers.
-- args: <authorization|-> <if-none-match|-> <expected status>
-- Counts responses by status (any other status than the expected one is
-- "bad") and prints one BENCH_JSON line from done().
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] and args[1] ~= "-" and args[1] ~= "" then wrk.headers["Authorization"] = args[1] end
  if args[2] and args[2] ~= "-" and args[2] ~= "" then wrk.headers["If-None-Match"] = args[2] end
  expected = tonumber(args[3] or "200")
  ok = 0
  bad = 0
  bad_statuses = ""
  extra = 0
end

function response(status, headers, body)
  if status == expected then
    ok = ok + 1
  else
    bad = bad + 1
    if bad <= 5 then bad_statuses = bad_statuses .. tostring(status) .. " " end
  end
end

function done(summary, latency, requests)
  local tok, tbad, tlist, textra = 0, 0, "", 0
  for _, t in ipairs(threads) do
    tok = tok + t:get("ok")
    tbad = tbad + t:get("bad")
    tlist = tlist .. t:get("bad_statuses")
    textra = textra + t:get("extra")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},"ok":%d,"bad":%d,"bad_statuses":"%s","extra":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    tok, tbad, tlist, textra))
end
