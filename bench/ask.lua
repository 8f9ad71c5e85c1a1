-- wrk script for bench/ask.sh: POST /ask with prepared JSON bodies (one per
-- line of the file named by BODIES: corpus headings or sentences, as
-- {"question", "top_k"[, "stream"]}, which both ragd's /ask and the Python
-- system's accept, so the same file drives either), rotating
-- through them so the store and the encoder see varied questions. Each wrk
-- thread starts at a different offset. STREAM=1 asks for Server-Sent Events
-- instead of the JSON answer. DELAY_MS=n makes each connection pause n ms
-- between requests (bench/soak.sh: offered load below saturation).
local bodies = {}
for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
local stream = os.getenv("STREAM") == "1"
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local counter = 0

function setup(thread)
  thread:set("offset", counter * 997)
  counter = counter + 1
end

function init(args)
  i = offset or 0
end

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if stream then wrk.headers["Accept"] = "text/event-stream" end

request = function()
  i = i + 1
  return wrk.format(nil, "/ask", nil, bodies[(i % #bodies) + 1])
end

if pause > 0 then
  delay = function()
    return pause
  end
end
