-- wrk script for bench/soak.sh: POST /ask with the corpus headings as
-- questions (file named by BODIES, one JSON body a line), rotating, each
-- connection pausing DELAY_MS between requests so the offered load stays
-- below saturation. STREAM=1 asks for Server-Sent Events.
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
