-- wrk script: POST /api/v1/authorize for the caller (an admin), with the
-- bearer token from GATEHOUSE_TOKEN, each request about a pipeline not
-- asked about before, so no decision is answered from the policies' memo.
local counter = 0
local threads = 0

function setup(thread)
    thread:set("tid", threads)
    threads = threads + 1
end

function init(args)
    counter = 0
    started = os.time()
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("GATEHOUSE_TOKEN")
end

function request()
    counter = counter + 1
    local body = string.format(
        '{"action":"pipeline.trigger","resource":{"type":"Pipeline","id":"acme/web:p%d-%d-%d"}}',
        started, tid, counter)
    return wrk.format(nil, nil, nil, body)
end
