-- RegisterTaskDefinition: every request is a new revision of one family.
local common = require "common"
local req

-- Built in init(), once wrk has set the Host header (a request built at load time has none).
function init(args)
   req = common.request("RegisterTaskDefinition",
      '{"family":"bench-register","containerDefinitions":[{"name":"app",' ..
      '"image":"public.ecr.aws/docker/library/busybox:1.36","memory":64,"essential":true,' ..
      '"command":["sleep","3600"],"environment":[{"name":"MODE","value":"bench"}]}]}')
end

setup = common.setup
request = function() return req end
response = common.response
done = common.done
