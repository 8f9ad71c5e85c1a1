-- wrk script for bench/encode_http.sh: POST /encode with prepared bodies,
-- rotating through them (one JSON body per line of the file in BODIES).
local bodies = {}
local path = os.getenv("BODIES")
for line in io.lines(path) do bodies[#bodies + 1] = line end
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i + 1
  return wrk.format(nil, "/encode", nil, bodies[(i % #bodies) + 1])
end
