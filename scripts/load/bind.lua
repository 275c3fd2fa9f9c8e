-- POST /v1/submissions/:id/bind, each prepared submission once, as an underwriter.
-- the script's top level runs in every Lua state wrk makes (each thread's and the main one)
ids = {}
for line in io.lines(os.getenv("LOAD_DIR") .. "/bind.ids") do ids[#ids + 1] = line end

local next_thread = 0
function setup(thread)
  thread:set("offset", next_thread)
  next_thread = next_thread + 1
end

function init(args)
  token = io.open(os.getenv("LOAD_DIR") .. "/underwriter.token"):read("*l")
  step = tonumber(os.getenv("THREADS"))
  i = offset + 1
end

function request()
  local sid = ids[i]
  if sid == nil then
    sid = ids[1]
  end
  i = i + step
  return wrk.format("POST", "/v1/submissions/" .. sid .. "/bind",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" }, "{}")
end

function done(summary, latency, requests)
  if summary.requests > #ids then
    io.write(string.format("WARNING: %d requests but only %d submissions: rebinds replayed\n", summary.requests, #ids))
  end
end
