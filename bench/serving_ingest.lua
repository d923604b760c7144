-- wrk script for the mixed load of bench/serving_bench.py: POST /v1/events batches of new
-- events (unique ids, known users and items drawn at random, timestamped now), as a content
-- platform streams them while recommend and audience calls are served.
--   wrk -s serving_ingest.lua URL -- USER_IDS_FILE ITEM_IDS_FILE BATCH RUN_TAG
-- done() prints the same one-line JSON summary as serving_wrk.lua.

local users, items = {}, {}
local batch = 50
local tag = "run"
local counter = 0
local thread_no = 0
local threads = 0

local function read_ids(path, into)
  for line in io.lines(path) do
    if #line > 0 then
      into[#into + 1] = line
    end
  end
  if #into == 0 then
    error("no ids in " .. path)
  end
end

function setup(thread)
  threads = threads + 1
  thread:set("thread_no", threads)
end

function init(args)
  read_ids(args[1], users)
  read_ids(args[2], items)
  batch = tonumber(args[3])
  tag = args[4]
  math.randomseed(os.time() + 104729 * (thread_no or 0))
end

local kinds = { "view", "view", "view", "click", "like" }

function request()
  local now = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local events = {}
  for i = 1, batch do
    counter = counter + 1
    -- ids are URL-quoted in the files; the synthetic ones need no JSON escaping
    events[i] = string.format(
      '{"id":"%s-%d-%d","user_id":"%s","item_id":"%s","type":"%s","ts":"%s"}',
      tag, thread_no or 0, counter, users[math.random(#users)], items[math.random(#items)],
      kinds[math.random(#kinds)], now)
  end
  local body = '{"events":[' .. table.concat(events, ",") .. ']}'
  return wrk.format("POST", "/v1/events", { ["Content-Type"] = "application/json" }, body)
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
