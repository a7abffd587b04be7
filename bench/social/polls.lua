-- wrk script: the polls of BENCHMARKS.md "Targets", each request by the next user in turn
-- (every user's token, from the file named by TANDEM_BENCH_TOKENS), cycling through the
-- extension's two badge polls and a friend list, or through the paths named in
-- TANDEM_BENCH_ROUTES (space-separated; %s is the user's id) when it is set, or sharing a
-- new page with all of the user's friends (`POST /notifications/share`) when
-- TANDEM_BENCH_SHARE is set. With TANDEM_BENCH_ONCE set to a file name (one wrk thread),
-- every user is asked once, in order, and that file is created when all have answered
-- (wrk's own timer ends only at its duration: the caller interrupts it then).
local users = dofile(os.getenv("TANDEM_BENCH_TOKENS"))
local routes = {
  "/friendship/requests",
  "/notifications/share?is_read=false",
  "/users/id/%s/friends?limit=15",
}
local chosen = {}
for path in (os.getenv("TANDEM_BENCH_ROUTES") or ""):gmatch("%S+") do
  chosen[#chosen + 1] = path
end
if #chosen > 0 then
  routes = chosen
end
local share = (os.getenv("TANDEM_BENCH_SHARE") or "") ~= ""
local once = os.getenv("TANDEM_BENCH_ONCE") or ""
local counter = 0
local answered = 0

function init(args)
  -- Threads start at different users so that they do not poll in lockstep.
  counter = once ~= "" and -1 or math.random(#users)
end

if once ~= "" then
  function response(status, headers, body)
    answered = answered + 1
    if answered == #users then
      io.open(once, "w"):close()
    end
  end
end

function request()
  counter = counter + 1
  local user = users[counter % #users + 1]
  if share then
    local body = string.format('{"url": "https://bench.example/page/%d", "title": "Shared %d"}',
                               counter, counter)
    return wrk.format("POST", "/notifications/share", {
      ["Authorization"] = "Bearer " .. user.token, ["Content-Type"] = "application/json"}, body)
  end
  local path = string.format(routes[counter % #routes + 1], user.id)
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. user.token})
end

function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f " ..
                         "max_ms=%.3f errors=%d non2xx=%d\n",
                         summary.requests, seconds, summary.requests / seconds,
                         latency:percentile(50) / 1000, latency:percentile(99) / 1000,
                         latency.max / 1000,
                         summary.errors.connect + summary.errors.read + summary.errors.write +
                           summary.errors.timeout,
                         summary.errors.status))
end
