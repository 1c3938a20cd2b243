-- RegisterTaskDefinition spread over many families: round robin over BENCH_FAMILIES
-- (default 10,000) families, so the store sees many families and revisions in each.
local common = require "common"
local families = tonumber(os.getenv("BENCH_FAMILIES") or "10000")
local prefix = os.getenv("BENCH_PREFIX") or "bench-many"
local counter = 0
setup = common.setup
request = function()
   counter = counter + 1
   local family = string.format("%s-%d", prefix, (counter * 7919 + (id or 0) * 104729) % families)
   return common.request("RegisterTaskDefinition",
      '{"family":"' .. family .. '","containerDefinitions":[{"name":"app",' ..
      '"image":"public.ecr.aws/docker/library/busybox:1.36","memory":64,"essential":true,' ..
      '"command":["sleep","3600"],"environment":[{"name":"MODE","value":"bench"}]}]}')
end
response = common.response
done = common.done
