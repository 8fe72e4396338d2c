-- wrk script for bench/load/wrk.py: replays the requests of a Workload, counts failed answers, and prints
-- one "RESULT {json}" line at the end. Arguments (after wrk's "--"): <requests file> <check: 1|0>.
--
-- The requests file is a sequence of netstrings ("<length>:<bytes>"), so LuaJIT reads it without a JSON
-- library: the ok statuses (one field, space-separated), the error-marker count then each marker, the request
-- count then per request: method, path, header count, name/value pairs, body.

local requests = {}   -- pre-built raw HTTP requests
local ok_status = {}
local markers = {}
local cursor = 0

checked = 0           -- thread-local globals, read back in done() through thread:get
errors = 0
first_error = nil

local threads = {}    -- main state only: the threads, for done()
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

local function reader(data)
   local pos = 1
   return function()
      local colon = data:find(":", pos, true)
      local len = tonumber(data:sub(pos, colon - 1))
      local value = data:sub(colon + 1, colon + len)
      pos = colon + len + 1
      return value
   end
end

function init(args)
   local file = assert(io.open(args[1], "rb"))
   local field = reader(file:read("*a"))
   file:close()
   for code in field():gmatch("%d+") do ok_status[tonumber(code)] = true end
   for _ = 1, tonumber(field()) do table.insert(markers, field()) end
   local parsed = {}
   for _ = 1, tonumber(field()) do
      local method, path, headers = field(), field(), {}
      for _ = 1, tonumber(field()) do
         local name = field()
         headers[name] = field()
      end
      local body = field()
      if body == "" then body = nil end
      table.insert(parsed, {method, path, headers, body})
   end
   for i, r in ipairs(parsed) do requests[i] = wrk.format(r[1], r[2], r[3], r[4]) end
   -- each thread starts at its own offset, so threads do not ask for the same rows in step
   cursor = (id or 0) * 7919 % #requests
   if #requests == 1 then
      -- one request: leave request() undefined so wrk sends its pre-built buffer (its fast, static path)
      local r = parsed[1]
      wrk.method, wrk.path, wrk.body = r[1], r[2], r[4]
      for name, value in pairs(r[3]) do wrk.headers[name] = value end
      request = nil
   end
   if args[2] ~= "1" then response = nil end  -- wrk only parses bodies when response() exists after init
end

function request()
   cursor = cursor % #requests + 1
   return requests[cursor]
end

function response(status, headers, body)
   checked = checked + 1
   local bad = not ok_status[status]
   if not bad and body then
      for _, marker in ipairs(markers) do
         if body:find(marker, 1, true) then bad = true; break end
      end
   end
   if bad then
      errors = errors + 1
      if not first_error then first_error = status .. " " .. (body or ""):sub(1, 200) end
   end
end

local function quoted(s)
   return '"' .. s:gsub('[%c"\\]', function(c) return string.format("\\u%04x", c:byte()) end) .. '"'
end

function done(summary, latency, requests)
   local total_checked, total_errors, first = 0, 0, ""
   for _, thread in ipairs(threads) do
      total_checked = total_checked + (thread:get("checked") or 0)
      total_errors = total_errors + (thread:get("errors") or 0)
      local e = thread:get("first_error")
      if first == "" and e then first = e end
   end
   local e = summary.errors
   io.write(string.format(
      'RESULT {"requests":%d,"duration_us":%d,"checked":%d,"errors":%d,"p50_us":%.1f,"p99_us":%.1f,'
      .. '"connect":%d,"read":%d,"write":%d,"timeout":%d,"non2xx":%d,"first_error":%s}\n',
      summary.requests, summary.duration, total_checked, total_errors, latency:percentile(50),
      latency:percentile(99), e.connect, e.read, e.write, e.timeout, e.status, quoted(first)))
end
