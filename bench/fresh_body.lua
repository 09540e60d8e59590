-- Shared by the wrk scripts that send a new body with every request (load
-- it with dofile from the repository's root): POST with the bearer token
-- from GATEHOUSE_TOKEN, and for `request()` the thread's number `tid`, a
-- per-thread `counter` and the run's start `started`, so that no body
-- repeats one from an earlier run against the same database.
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
