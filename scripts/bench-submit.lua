-- wrk script for the submission benchmarks (bench-jobs.sh, bench-cluster.sh): POST /media/enhance with a
-- Bearer token, every body unique. Arguments after `--`: a prefix unique to this wrk run, then the token.
-- wrk gives each thread its own Lua state, and LuaJIT's math.random starts from the same seed in each, so a
-- random prefix alone would repeat across threads and runs (Ferry answers an identical body from the same
-- app within 10 minutes with the earlier job, storing nothing): the prefix is the run's plus the thread's.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local prefix, counter = "", 0
function init(args)
  prefix = args[1] .. "-" .. tostring(thread_number)
  wrk.headers["Authorization"] = "Bearer " .. args[2]
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  local body = '{"input": "dlb://in/' .. prefix .. '-' .. counter .. '.wav", "output": "dlb://out/x.wav"}'
  return wrk.format(nil, "/media/enhance", nil, body)
end
