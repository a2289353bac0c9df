-- GET /v1/units/{code} for codes drawn at random from the file $CODES
-- (one canonical code per line), as a public caller would scan labels.
--
-- The codes stay in one string, cut out by offset: a Lua table of a
-- million strings made each of wrk's garbage collections walk it, and
-- the pauses showed as 100 ms in wrk's 99th percentile while hridd's own
-- log had 1 ms.
local f = assert(io.open(os.getenv("CODES"), "rb"))
local all = f:read("*a")
f:close()
local width = 30                        -- 29 characters and a newline
local count = math.floor(#all / width)
math.randomseed(os.time() + math.floor(os.clock() * 1e6))

request = function()
  local at = math.random(0, count - 1) * width
  return wrk.format("GET", "/v1/units/" .. all:sub(at + 1, at + 29))
end
