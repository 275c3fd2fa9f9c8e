-- POST /v1/submissions/:id/quote on one submission, as a producer.
function init(args)
  local sid = io.open(os.getenv("LOAD_DIR") .. "/quote.submission"):read("*l")
  local token = io.open(os.getenv("LOAD_DIR") .. "/producer.token"):read("*l")
  wrk.method = "POST"
  wrk.path = "/v1/submissions/" .. sid .. "/quote"
  wrk.body = "{}"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
end
