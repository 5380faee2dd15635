-- Runs manifests/gitops/argocd/health.lua the way Argo CD does, for the tests.
--
-- Argo CD's Lua VM (gopher-lua, Lua 5.1) opens only the base, table and package libraries
-- and a "safe" os (time, date) that only require("os") returns: there is no global os (Argo
-- CD registers it under the name of the table library, which is already loaded), no string
-- library, so no string methods either. A script runs with the resource as the global `obj`
-- and returns {status=..., message=...}. M.run gives the script those globals (a subset of
-- gopher-lua's base library) and switches string methods off while it runs, so a health.lua
-- that would fail in Argo CD fails here (tests/gitops/gopherlua runs Argo CD's real VM).
-- Works on Lua 5.1 (setfenv, as lupa's lua51 runs it) and on 5.2+ (load with an env table,
-- as the lua5.4 binary runs it).
--
-- From Python (lupa): M = lua.execute(this file); ok, hs = M.run(source, obj)
-- From a shell:       lua5.4 harness.lua health.lua cases.lua
--   cases.lua returns {{name = "...", obj = {...}}, ...}; prints one line per case:
--   name <TAB> status <TAB> message   (or name <TAB> ERROR <TAB> error), \t \n \\ escaped.
local M = {}

local BASE = {
  "assert", "error", "ipairs", "next", "pairs", "pcall", "select", "tonumber", "tostring",
  "type", "unpack", "xpcall", "rawequal", "rawget", "rawset", "setmetatable", "getmetatable", "print",
}

function M.sandbox(obj)
  local safe_os = {time = os.time, date = os.date}
  local env = {obj = obj, table = table}
  env.require = function(name)
    if name == "os" then
      return safe_os
    end
    error("module '" .. tostring(name) .. "' not found")
  end
  for _, name in ipairs(BASE) do
    env[name] = _G[name]
  end
  env._G = env
  return env
end

function M.run(source, obj)
  local env = M.sandbox(obj)
  local chunk, err
  if setfenv ~= nil then
    chunk, err = loadstring(source, "=health.lua")
    if chunk ~= nil then
      setfenv(chunk, env)
    end
  else
    chunk, err = load(source, "=health.lua", "t", env)
  end
  if chunk == nil then
    return false, err
  end
  local strings = getmetatable("")
  local methods = strings.__index
  strings.__index = nil
  local ok, hs = pcall(chunk)
  strings.__index = methods
  return ok, hs
end

local function escape(text)
  return (tostring(text):gsub("\\", "\\\\"):gsub("\t", "\\t"):gsub("\n", "\\n"))
end

function M.line(name, ok, hs)
  if not ok then
    return name .. "\tERROR\t" .. escape(hs)
  end
  if type(hs) ~= "table" then
    return name .. "\tERROR\t" .. escape("returned " .. type(hs) .. ", not a table")
  end
  local extra = {}
  for key in pairs(hs) do
    if key ~= "status" and key ~= "message" then
      extra[#extra + 1] = tostring(key)
    end
  end
  if #extra > 0 then
    return name .. "\tERROR\t" .. escape("unexpected keys: " .. table.concat(extra, ","))
  end
  return name .. "\t" .. escape(hs.status) .. "\t" .. escape(hs.message)
end

if arg ~= nil and arg[1] ~= nil and arg[2] ~= nil then
  local file = assert(io.open(arg[1], "r"))
  local source = file:read("*a")
  file:close()
  for _, case in ipairs(dofile(arg[2])) do
    print(M.line(case.name, M.run(source, case.obj)))
  end
end

return M
