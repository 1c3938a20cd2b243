-- Shared by the wrk scripts: POST / with an AWS JSON 1.1 ECS target, a per-thread id, an
-- optional stop after WRK_STOP_AFTER successful responses in total, and a one-line,
-- machine-readable summary that bench/run.sh parses.
--
-- Load with `require "common"` from a script run with bench/wrk as the working directory.

local M = {}

local threads = {}
local thread_count = 0

-- Called by wrk once per thread, before it starts: give each thread an id.
function M.setup(thread)
   thread:set("id", thread_count)
   table.insert(threads, thread)
   thread_count = thread_count + 1
end

-- moto picks the service from the SigV4 credential scope and answers as S3 without one;
-- it does not check signatures. BENCH_SIGV4_SCOPE=1 adds such a header (unverifiable
-- signature); Wharf gets unsigned requests, which it takes as us-east-1.
local fake_sigv4 = os.getenv("BENCH_SIGV4_SCOPE") == "1"

-- BENCH_AMZ_DATE and BENCH_AUTHORIZATION: a valid SigV4 signature of the request (made by
-- bench/sign.py for the exact host, headers and body), replayed within its 15 minutes.
local signed_date = os.getenv("BENCH_AMZ_DATE")
local signed_auth = os.getenv("BENCH_AUTHORIZATION")

-- The request for `op` with JSON `body`.
function M.request(op, body)
   local headers = {
      ["Content-Type"] = "application/x-amz-json-1.1",
      ["X-Amz-Target"] = "AmazonEC2ContainerServiceV20141113." .. op,
   }
   if signed_date and signed_auth then
      -- A real signature over this very request (bench/sign.py), which a
      -- server with --credentials verifies on every request.
      headers["X-Amz-Date"] = signed_date
      headers["Authorization"] = signed_auth
   elseif fake_sigv4 then
      headers["X-Amz-Date"] = "20260101T000000Z"
      headers["Authorization"] = "AWS4-HMAC-SHA256 " ..
         "Credential=test/20260101/us-east-1/ecs/aws4_request, " ..
         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" ..
         string.rep("0", 64)
   end
   return wrk.format("POST", "/", headers, body)
end

local stop_after = tonumber(os.getenv("WRK_STOP_AFTER") or "")
local threads_env = tonumber(os.getenv("WRK_THREADS") or "1")
local done_here = 0

-- Counts successful responses; stops this thread when it has done its share.
function M.response(status, headers, body)
   if status >= 200 and status < 300 then
      done_here = done_here + 1
      if stop_after and done_here >= math.ceil(stop_after / threads_env) then
         wrk.thread:stop()
      end
   elseif M.first_error == nil then
      M.first_error = body
      io.stderr:write("non-2xx response " .. status .. ": " .. tostring(body) .. "\n")
   end
end

function M.done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local bad = summary.errors.status
   local socket = summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout
   io.write(string.format(
      "WRK_RESULT requests=%d ok=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f " ..
      "max_ms=%.3f non2xx=%d socket_errors=%d\n",
      summary.requests, summary.requests - bad, seconds, (summary.requests - bad) / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
      bad, socket))
end

return M
