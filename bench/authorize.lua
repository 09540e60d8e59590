-- wrk script: POST /api/v1/authorize for the caller (an admin), with the
-- bearer token from GATEHOUSE_TOKEN.
function init(args)
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("GATEHOUSE_TOKEN")
    wrk.body = '{"action":"pipeline.trigger","resource":{"type":"Pipeline","id":"acme/web:deploy"}}'
end
