-- DescribeTaskDefinition of one family (registered by run.sh before the run).
local common = require "common"
local family = os.getenv("BENCH_FAMILY") or "bench-describe"
local req

-- Built in init(), once wrk has set the Host header (a request built at load time has none).
function init(args)
   req = common.request("DescribeTaskDefinition", '{"taskDefinition":"' .. family .. '"}')
end

setup = common.setup
request = function() return req end
response = common.response
done = common.done
