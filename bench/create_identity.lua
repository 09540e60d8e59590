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
    -- Names from an earlier run in the same database must not come again
    -- (a 409 is not a created identity): the run's start is in every name.
    started = os.time()
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("GATEHOUSE_TOKEN")
end

function request()
    counter = counter + 1
    local body = string.format('{"kind":"service","name":"bench-%d-%d-%d"}', started, tid, counter)
    return wrk.format(nil, "/api/v1/identities", nil, body)
end
