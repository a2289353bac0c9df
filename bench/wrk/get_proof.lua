-- GET /v1/log/proof/inclusion for leaves drawn at random below $LEAVES,
-- in the tree of $LEAVES leaves, as auditors and phones would ask.
local leaves = tonumber(os.getenv("LEAVES"))
math.randomseed(os.time() + math.floor(os.clock() * 1e6))

request = function()
  return wrk.format("GET", "/v1/log/proof/inclusion?leaf=" ..
                    math.random(0, leaves - 1) .. "&size=" .. leaves)
end
