-- wrk script: POST /api/v1/identities with a unique service name per request.
dofile("bench/fresh_body.lua")

function request()
    counter = counter + 1
    local body = string.format('{"kind":"service","name":"bench-%d-%d-%d"}', started, tid, counter)
    return wrk.format(nil, "/api/v1/identities", nil, body)
end
