-- wrk script: a GET with the bearer token from GATEHOUSE_TOKEN.
function init(args)
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("GATEHOUSE_TOKEN")
end
