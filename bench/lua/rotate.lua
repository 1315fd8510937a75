-- wrk script of bench/run.mjs (rollout scenario): every request carries the
-- next license of a list, round and round, so that many licensees poll
-- through one wrk thread. Only a request() callback, no response(): each
-- request is formatted once in init() and request() returns the next one,
-- so wrk still reads the answers in C (a response() callback hands every
-- answer to Lua, which caps wrk itself far below nginx here). wrk prints
-- its own plain report.
-- args: <file of Authorization header values, one per line> <first line to send (1-based)>
function init(args)
  reqs = {}
  local h = {}
  for line in io.lines(args[1]) do
    if line ~= "" then
      h["Authorization"] = line
      reqs[#reqs + 1] = wrk.format(nil, nil, h)
    end
  end
  n = #reqs
  idx = (tonumber(args[2] or "1") - 1) % n
end

function request()
  idx = idx + 1
  if idx > n then idx = 1 end
  return reqs[idx]
end
