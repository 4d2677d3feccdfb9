-- wrk script: sends every request with the next token from the file named by the environment
-- variable AVOW_BENCH_TOKENS (one token a line) in the Avow-Token header, wrapping around at the
-- end. Each wrk thread starts at its own offset.

local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
end

local tokens = {}
local position = 0

function init(args)
  local path = os.getenv("AVOW_BENCH_TOKENS")
  if path == nil or path == "" then
    error("AVOW_BENCH_TOKENS must name the token file")
  end
  for line in io.lines(path) do
    if #line > 0 then
      tokens[#tokens + 1] = line
    end
  end
  if #tokens == 0 then
    error("no tokens in " .. path)
  end
  -- thread_index comes from setup(). Threads start an eighth of the file apart, so that up to
  -- eight threads do not send the same tokens in step.
  position = (thread_index * math.floor(#tokens / 8)) % #tokens
end

function request()
  position = position % #tokens + 1
  wrk.headers["Avow-Token"] = tokens[position]
  return wrk.format()
end
