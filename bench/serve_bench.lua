-- wrk script of bench/serve_bench.sh: POST /v1/embeddings, one sentence a request. Bodies are
-- the lines of the file named by env SERVE_BENCH_BODIES (each a whole JSON request); each wrk
-- thread walks them from its own offset, so concurrent requests carry different texts. done()
-- prints one machine-readable RESULT line for the shell script.
local bodies = {}
for line in io.lines(os.getenv("SERVE_BENCH_BODIES")) do
    bodies[#bodies + 1] = line
end
local threads = 0
local counter = 0

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

function setup(thread)
    threads = threads + 1
    thread:set("offset", threads * 7919)
end

function init(args)
    counter = offset or 0
end

function request()
    counter = counter + 1
    return wrk.format(nil, "/v1/embeddings", nil, bodies[counter % #bodies + 1])
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non2xx=%d socket_errors=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        e.status, e.connect + e.read + e.write + e.timeout))
end
