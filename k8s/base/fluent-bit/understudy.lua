-- Lines that are not JSON (a crash before logging is set up) have no @timestamp of their
-- own: give them the time Fluent Bit read them, so Kibana shows them next to the others.
function ensure_timestamp(tag, ts, record)
  if record["@timestamp"] ~= nil then
    return 0, ts, record
  end
  local seconds = math.floor(ts)
  local millis = math.floor((ts - seconds) * 1000)
  record["@timestamp"] = os.date("!%Y-%m-%dT%H:%M:%S", seconds) .. string.format(".%03dZ", millis)
  return 2, ts, record
end
