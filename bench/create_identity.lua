-- wrk script: POST /api/v1/identities with a unique service name per request.
-- The token comes from the GATEHOUSE_TOKEN environment variable.
local counter = 0
local threads = 0

function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
end

function init(args)
    counter = 0
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("GATEHOUSE_TOKEN")
end

function request()
    counter = counter + 1
    local body = string.format('{"kind":"service","name":"bench-%d-%d-%d"}', tid, counter, math.random(1, 1000000000))
    return wrk.format(nil, "/api/v1/identities", nil, body)
end
