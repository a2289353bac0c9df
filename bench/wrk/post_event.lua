-- POST an inspection event to units drawn at random from $CODES, with the
-- regulator key $KEY: a lifecycle event that every live unit accepts any
-- number of times, so the run measures the write path, not the rules.
local codes = {}
for line in io.lines(os.getenv("CODES")) do codes[#codes + 1] = line end
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("KEY"),
  ["Content-Type"] = "application/json",
}
local body = '{"type":"inspection","result":"pass","notes":"bench"}'

request = function()
  local path = "/v1/units/" .. codes[math.random(#codes)] .. "/events"
  return wrk.format("POST", path, headers, body)
end

response = function(status, hdrs, resp)
  if status ~= 201 then
    io.stderr:write("unexpected status " .. status .. ": " .. resp .. "\n")
  end
end
