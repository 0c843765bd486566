-- gatehouse-auth.lua: an HAProxy 2.6+ Lua action that asks `gatehouse forward-auth` about every
-- request (HAProxy has no auth request of its own). haproxy.cfg next to this file shows its use:
--
--   global
--     lua-load /etc/haproxy/gatehouse-auth.lua
--   frontend api
--     http-request del-header ^x[^a-z0-9]auth[^a-z0-9] -m reg
--     http-request lua.gatehouse-auth http://127.0.0.1:8181
--     http-request deny deny_status 500 unless { var(txn.gatehouse_allowed) -m bool }
--
-- For each request it GETs BASE/auth/forwarded with core.httpclient(), carrying the client's method,
-- request target (path and query exactly as sent) and host in X-Forwarded-Method, -Uri, -Host and
-- -Proto, the client's address appended to X-Forwarded-For, and every other client header (so
-- Gatehouse sees the token, wherever it is, and any override or identity copy it must refuse or
-- strip), but no body: a form POST is then refused (400), as behind nginx and Caddy.
--
--   * 2xx: every answer header whose name starts with one of COPY replaces the request's copies,
--     and txn.gatehouse_allowed is set; the request goes on to the backend.
--   * 4xx or 5xx: Gatehouse's own denial goes back to the client: status, WWW-Authenticate,
--     Retry-After, Content-Type, Cache-Control and the problem body. The backend is never called.
--   * forward-auth unreachable, timed out, or any other answer: 503 or 500, never the backend.
--   * a forward-auth URL that is not http:// or https:// with a host, or an error inside this
--     script: 500. The `deny ... unless { var(txn.gatehouse_allowed) }` line
--     is the last guard: an action HAProxy aborted (a Lua error it catches, a yield timeout) leaves
--     the variable unset, and the request is refused rather than let through.

-- Answer headers copied onto the request (lower-case name prefixes). In `tenant: header:X-Org-Id`
-- mode add "x-org-id" here, and a `del-header x-org-id` line before the action in haproxy.cfg.
local COPY = { "x-auth-" }

-- How long one auth request may take (milliseconds), connection included.
local TIMEOUT_MS = 2000

-- Client headers not sent to forward-auth: the connection's own (RFC 9110 §7.6.1), the body's (no
-- body is sent), and those this script sets itself.
local SKIP = {
   ["connection"] = true, ["proxy-connection"] = true, ["keep-alive"] = true, ["te"] = true,
   ["trailer"] = true, ["transfer-encoding"] = true, ["upgrade"] = true, ["expect"] = true,
   ["content-length"] = true, ["host"] = true,
   ["x-forwarded-method"] = true, ["x-forwarded-uri"] = true, ["x-forwarded-host"] = true,
   ["x-forwarded-proto"] = true, ["x-forwarded-for"] = true,
}

-- Answer headers relayed to the client with a denial.
local RELAY = { "www-authenticate", "retry-after", "content-type", "cache-control" }

-- values returns the values of one header of a header table as a list from 1: HAProxy's request
-- headers are indexed from 0, the httpclient's answer headers may be either way.
local function values(t)
   local out = {}
   if type(t) ~= "table" then
      if t ~= nil then out[1] = tostring(t) end
      return out
   end
   local i = 0
   if t[0] == nil then i = 1 end
   while t[i] ~= nil do
      out[#out + 1] = t[i]
      i = i + 1
   end
   return out
end

local function copied(name)
   for _, prefix in ipairs(COPY) do
      if name:sub(1, #prefix) == prefix then return true end
   end
   return false
end

-- problem is a reply with an RFC 9457 problem of this script's own (not a Gatehouse decision).
local function problem(txn, status, title, detail)
   return txn:reply{
      status = status,
      headers = { ["content-type"] = { "application/problem+json" }, ["cache-control"] = { "no-store" } },
      body = '{"type":"about:blank","title":"' .. title .. '","status":' .. status .. ',"detail":"' .. detail .. '"}\n',
   }
end

-- ask builds the auth request and returns the reply to send instead of proxying, or nil to proxy.
local function ask(txn, base)
   -- HAProxy's httpclient reads any other scheme (a typo such as htps://) as plain HTTP: a token
   -- meant for TLS would cross the network in clear. Only http:// and https:// with a host pass.
   if type(base) ~= "string" or not (base:match("^http://[^/]") or base:match("^https://[^/]")) then
      error("the forward-auth URL " .. tostring(base) .. " is not http:// or https:// with a host")
   end
   local headers = {}
   for name, vals in pairs(txn.http:req_get_headers()) do
      name = name:lower()
      if not SKIP[name] then
         headers[name] = values(vals)
      end
   end
   local xff = values(txn.http:req_get_headers()["x-forwarded-for"])
   xff[#xff + 1] = txn.f:src()
   headers["x-forwarded-for"] = xff
   headers["x-forwarded-method"] = { txn.f:method() }
   headers["x-forwarded-uri"] = { txn.f:pathq() or "" }
   headers["x-forwarded-host"] = { txn.f:req_fhdr("host") or "" }
   local tls = txn.f:ssl_fc() -- a boolean sample: true or false, or 1 or 0 (0 is true in Lua)
   if tls == true or tls == 1 then
      headers["x-forwarded-proto"] = { "https" }
   else
      headers["x-forwarded-proto"] = { "http" }
   end

   local res = core.httpclient():get{ url = base .. "/auth/forwarded", headers = headers, timeout = TIMEOUT_MS }
   local status = res and tonumber(res.status) or 0
   if status == 0 then
      txn:Warning("gatehouse-auth: forward-auth at " .. base .. " did not answer")
      return problem(txn, 503, "Service Unavailable", "authorization service unavailable")
   end
   local answer = {}
   for name, vals in pairs(res.headers or {}) do
      answer[name:lower()] = values(vals)
   end
   if status >= 200 and status < 300 then
      for name, vals in pairs(answer) do
         if copied(name) then
            txn.http:req_del_header(name)
            for _, v in ipairs(vals) do
               txn.http:req_add_header(name, v)
            end
         end
      end
      txn:set_var("txn.gatehouse_allowed", true)
      return nil
   end
   if status < 400 or status > 599 then
      txn:Warning("gatehouse-auth: forward-auth answered " .. status)
      return problem(txn, 500, "Internal Server Error", "unexpected answer from the authorization service")
   end
   -- Every Gatehouse denial is an RFC 9457 problem. Anything else is not Gatehouse speaking: the
   -- httpclient's own 503 page when the connection failed (after its 3 retries), or another server.
   local ct = (answer["content-type"] or {})[1] or ""
   if ct:lower():sub(1, 24) ~= "application/problem+json" then
      txn:Warning("gatehouse-auth: forward-auth at " .. base .. " unavailable (" .. status .. " " .. ct .. ")")
      return problem(txn, 503, "Service Unavailable", "authorization service unavailable")
   end
   local reply = txn:reply{ status = status, body = res.body or "" }
   for _, name in ipairs(RELAY) do
      for _, v in ipairs(answer[name] or {}) do
         reply:add_header(name, v)
      end
   end
   return reply
end

core.register_action("gatehouse-auth", { "http-req" }, function(txn, base)
   local ok, reply = pcall(ask, txn, base)
   if not ok then
      txn:Alert("gatehouse-auth: " .. tostring(reply))
      txn:unset_var("txn.gatehouse_allowed")
      txn:done(problem(txn, 500, "Internal Server Error", "authorization failed"))
      return
   end
   if reply ~= nil then
      txn:done(reply)
   end
end, 1)
