-- wrk script for bench/serving_bench.py: every request asks for a random id from a list,
-- so per-id caches (SQLite pages, FAISS lists) are not flattered by one hot id.
--   wrk -s serving_wrk.lua URL -- IDS_FILE PATH_TEMPLATE
-- PATH_TEMPLATE holds one %s for the (already URL-quoted) id, e.g.
--   /v1/users/%s/recommendations?n=10&exclude_seen=true
-- done() prints one JSON line (latencies in microseconds) for the Python driver to parse.

local ids = {}
local template = "/"
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then
      ids[#ids + 1] = line
    end
  end
  if #ids == 0 then
    error("no ids in " .. args[1])
  end
  template = args[2]
  math.randomseed(os.time() + 7919 * (seed or 0))
end

function request()
  local path = string.format(template, ids[math.random(#ids)])
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,' ..
    '"p99_us":%d,"mean_us":%.1f,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
