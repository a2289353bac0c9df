-- GET /v1/units/{code} for codes drawn at random from the file $CODES
-- (one canonical code per line), as a public caller would scan labels.
local codes = {}
for line in io.lines(os.getenv("CODES")) do codes[#codes + 1] = line end
math.randomseed(os.time() + math.floor(os.clock() * 1e6))

request = function()
  return wrk.format("GET", "/v1/units/" .. codes[math.random(#codes)])
end
