-- Argo CD health check for otelwire.io/MonitoredService
-- (argocd-cm key: resource.customizations.health.otelwire.io_MonitoredService).
--
-- The single source: argocd-cm/argocd-cm-patch.yaml embeds a copy of this file and
-- tests/gitops/test_argocd_health.py keeps the two identical; docs/gitops.md explains
-- the mapping. Argo CD runs it in gopher-lua (Lua 5.1) with only the base and table
-- libraries: no string library and no string methods here.
--
--   Progressing  no status yet, or status.observedGeneration (or Ready's) behind
--                metadata.generation; Ready missing or Unknown; Reconciling=True (a
--                rollout is replacing pods); the chrony DaemonSet still coming up;
--                the object being deleted
--   Degraded     Stalled=True / ConfigValid=False (the spec cannot be satisfied), or
--                any other failing detail: collector unreachable, names disagree,
--                pods that need a restart, clocks out of sync
--   Healthy      Ready=True; or no pod matches the selector yet -- nothing to
--                instrument is not a failure, and a Progressing or Degraded
--                MonitoredService would block (or fail) a sync whose workloads come
--                in a later wave

local DETAILS = {"ConfigValid", "Injected", "CollectorReachable", "ServiceNameConsistent", "ClockSynced"}

local function result(status, message)
  return {status = status, message = message}
end

local function health(obj)
  local meta = obj.metadata or {}
  local status = obj.status
  local generation = meta.generation

  if meta.deletionTimestamp ~= nil then
    return result("Progressing", "Being deleted: otelwire removes what it applied")
  end
  if status == nil or status.observedGeneration == nil then
    return result("Progressing", "Waiting for otelwire to reconcile this MonitoredService")
  end
  if generation ~= nil and status.observedGeneration ~= generation then
    return result("Progressing", "Waiting for otelwire to observe generation " .. tostring(generation) ..
      " (status is for generation " .. tostring(status.observedGeneration) .. ")")
  end

  local conditions = {}
  if status.conditions ~= nil then
    for _, condition in ipairs(status.conditions) do
      if condition.type ~= nil then
        conditions[condition.type] = condition
      end
    end
  end

  local stalled, valid = conditions["Stalled"], conditions["ConfigValid"]
  if (stalled ~= nil and stalled.status == "True") or (valid ~= nil and valid.status == "False") then
    local why = valid
    if why == nil or why.status ~= "False" then
      why = stalled
    end
    return result("Degraded", "Invalid spec: " .. tostring(why.message))
  end

  local ready = conditions["Ready"]
  if ready == nil or ready.status == nil or ready.status == "Unknown" then
    return result("Progressing", "Waiting for the Ready condition")
  end
  if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration ~= generation then
    return result("Progressing", "Waiting for the Ready condition of generation " .. tostring(generation))
  end

  local reconciling = conditions["Reconciling"]
  if reconciling ~= nil and reconciling.status == "True" then
    local message = tostring(reconciling.message)
    if ready.status ~= "True" then
      message = message .. "; " .. tostring(ready.message)
    end
    return result("Progressing", message)
  end

  if ready.status == "True" then
    return result("Healthy", tostring(ready.message))
  end

  -- Ready=False: the detail conditions say whether a person has to act.
  local waitingForPods, waitingForClock = nil, nil
  for _, kind in ipairs(DETAILS) do
    local detail = conditions[kind]
    if detail ~= nil and detail.status ~= "True" and detail.reason ~= "NotProbeable" then
      if detail.reason == "NoMatchingPods" then
        waitingForPods = waitingForPods or detail
      elseif detail.reason == "DaemonSetPending" then
        waitingForClock = detail
      else
        return result("Degraded", kind .. ": " .. tostring(detail.message))
      end
    end
  end
  if waitingForClock ~= nil then
    return result("Progressing", "ClockSynced: " .. tostring(waitingForClock.message))
  end
  if waitingForPods ~= nil then
    return result("Healthy", "No pods to instrument yet: " .. tostring(waitingForPods.message))
  end
  return result("Degraded", tostring(ready.message))
end

return health(obj)
