-- wrk script: POST /api/v1/authorize for the caller (an admin), each
-- request about a pipeline not asked about before, so no decision is
-- answered from the policies' memo.
dofile("bench/fresh_body.lua")

function request()
    counter = counter + 1
    local body = string.format(
        '{"action":"pipeline.trigger","resource":{"type":"Pipeline","id":"acme/web:p%d-%d-%d"}}',
        started, tid, counter)
    return wrk.format(nil, nil, nil, body)
end
