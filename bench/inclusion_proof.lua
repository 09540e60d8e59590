-- wrk script: GET an inclusion proof for a random index below
-- GATEHOUSE_BENCH_SIZE, with the bearer token from GATEHOUSE_TOKEN.
local size = tonumber(os.getenv("GATEHOUSE_BENCH_SIZE"))

function init(args)
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("GATEHOUSE_TOKEN")
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
    local index = math.random(0, size - 1)
    return wrk.format("GET", "/api/v1/audit/proof/inclusion?index=" .. index .. "&tree_size=" .. size)
end
