-- POST an inspection event to units drawn at random from $CODES, with the
-- regulator key $KEY: a lifecycle event that every live unit accepts any
-- number of times, so the run measures the write path, not the rules.
--
-- The codes stay in one string, as in get_unit.lua, and there is no
-- response callback (wrk then parses every reply's headers in Lua): the
-- bench reads refusals from wrk's count of non-2xx replies.
local f = assert(io.open(os.getenv("CODES"), "rb"))
local all = f:read("*a")
f:close()
local width = 30                        -- 29 characters and a newline
local count = math.floor(#all / width)
math.randomseed(os.time() + math.floor(os.clock() * 1e6))
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("KEY"),
  ["Content-Type"] = "application/json",
}
local body = '{"type":"inspection","result":"pass","notes":"bench"}'

request = function()
  local at = math.random(0, count - 1) * width
  local path = "/v1/units/" .. all:sub(at + 1, at + 29) .. "/events"
  return wrk.format("POST", path, headers, body)
end
