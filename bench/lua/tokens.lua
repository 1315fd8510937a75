-- wrk script of bench/run.mjs: every request carries the next license of a
-- list, each used once. When the list is exhausted the thread stops and
-- wrk is interrupted (SIGINT to itself, so its summary covers only the time
-- actually run); the few requests issued after that go to /healthz without
-- a license and are counted as "extra", so no license is ever sent twice.
-- With a fifth argument, the answers whose ETag is that value are counted
-- ("target": the rollout scenario's share of answers that were the target).
-- args: <file of Authorization header values, one per line> <first line (1-based)> <count> <expected status> [ETag to count]
local ffi = require("ffi")
ffi.cdef [[ int getpid(void); int kill(int pid, int sig); ]]

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local first = tonumber(args[2] or "1")
  local count = tonumber(args[3] or "0")
  expected = tonumber(args[4] or "200")
  target_etag = args[5]
  target = 0
  hdrs = {}
  local i = 0
  for line in io.lines(args[1]) do
    i = i + 1
    if i >= first and (count == 0 or i < first + count) then hdrs[#hdrs + 1] = line end
  end
  n = #hdrs
  idx = 0
  ok = 0
  bad = 0
  bad_statuses = ""
  extra = 0
  stopping = false
  h = {}
  spare = nil
end

function request()
  idx = idx + 1
  if idx > n then
    if not stopping then
      stopping = true
      wrk.thread:stop()
      ffi.C.kill(ffi.C.getpid(), 2)
    end
    if not spare then spare = wrk.format("GET", "/healthz", {}) end
    return spare
  end
  h["Authorization"] = hdrs[idx]
  return wrk.format(nil, nil, h)
end

function response(status, headers, body)
  if idx > n and status == 200 and not headers["etag"] and not headers["ETag"] then
    -- an answer to a /healthz filler (an operator answer always carries an ETag)
    extra = extra + 1
  elseif status == expected then
    ok = ok + 1
    if target_etag and (headers["etag"] or headers["ETag"]) == target_etag then target = target + 1 end
  else
    bad = bad + 1
    if bad <= 5 then bad_statuses = bad_statuses .. tostring(status) .. " " end
  end
end

function done(summary, latency, requests)
  local tok, tbad, tlist, textra, ttarget = 0, 0, "", 0, 0
  for _, t in ipairs(threads) do
    ttarget = ttarget + t:get("target")
    tok = tok + t:get("ok")
    tbad = tbad + t:get("bad")
    tlist = tlist .. t:get("bad_statuses")
    textra = textra + t:get("extra")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d},"ok":%d,"bad":%d,"bad_statuses":"%s","extra":%d,"target":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    tok, tbad, tlist, textra, ttarget))
end
