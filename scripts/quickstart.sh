#!/usr/bin/env bash
# `make run`: a workspace on embedded DuckDB under ./data (HTTPS with its own CA) and an agent on this
# machine collecting heartbeat, performance counters and syslog (UDP/TCP 127.0.0.1:5514).
# Both run in the background; logs in ./data/logs; `make stop` stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
DATA=${CALYPSO_DATA:-./data}
LISTEN=${CALYPSO_LISTEN:-127.0.0.1:8443}
URL="https://$LISTEN"
mkdir -p "$DATA/logs"

stop() {
  for name in agent workspace; do
    if [ -f "$DATA/$name.pid" ] && kill -0 "$(cat "$DATA/$name.pid")" 2>/dev/null; then
      kill -TERM "$(cat "$DATA/$name.pid")"; echo "stopped $name"
    fi
    rm -f "$DATA/$name.pid"
  done
}
if [ "${1:-}" = "stop" ]; then stop; exit 0; fi
stop >/dev/null 2>&1 || true

if [ ! -f "$DATA/workspace/workspace.json" ]; then
  $BIN/calypso workspace init --data "$DATA/workspace" > "$DATA/workspace.json"
fi
J() { $BIN/python -c "import json,sys; print(json.load(open('$DATA/workspace.json'))['$1'])"; }
WS=$(J workspace_id); KEY=$(J primary_key); TOKEN=$(J query_token); CA=$(J ca_cert)

$BIN/calypso workspace serve --data "$DATA/workspace" --listen "$LISTEN" >>"$DATA/logs/workspace.log" 2>&1 &
echo $! > "$DATA/workspace.pid"
for _ in $(seq 1 100); do
  $BIN/python -c "import socket,sys; h,p='$LISTEN'.rsplit(':',1); socket.create_connection((h,int(p)),0.2)" 2>/dev/null && break
  sleep 0.1
done

cat > "$DATA/agent.toml" <<TOML
[sources.heartbeat]
interval = "60s"

[sources.perf]
interval = "10s"

[sources.syslog]
udp = "127.0.0.1:5514"
tcp = "127.0.0.1:5514"
TOML
if ! ls "$DATA/agent/workspaces/$WS" >/dev/null 2>&1; then
  $BIN/calypso agent connect --state "$DATA/agent" --url "$URL" --workspace-id "$WS" --key "$KEY" --ca "$CA" >/dev/null
fi
$BIN/calypso agent run --state "$DATA/agent" --config "$DATA/agent.toml" >>"$DATA/logs/agent.log" 2>&1 &
echo $! > "$DATA/agent.pid"

# One syslog line of our own, so the Syslog table has something in it right away.
sleep 2
$BIN/python - <<'PY' || true
import socket, time
line = time.strftime("%b %e %H:%M:%S", time.gmtime()) + f" {socket.gethostname()} calypso-quickstart[1]: hello from make run"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"<14>" + line.encode(), ("127.0.0.1", 5514))
PY

export CALYPSO_URL="$URL" CALYPSO_WORKSPACE_ID="$WS" CALYPSO_TOKEN="$TOKEN" CALYPSO_CA="$CA"
# Wait (bounded) until the first heartbeat and a second CPU sample (rates need two) are queryable.
for _ in $(seq 1 60); do
  if $BIN/calypso query --format csv 'Perf | where CounterName == "% Processor Time" | count' 2>/dev/null \
      | tail -1 | grep -qv '^0$'; then break; fi
  sleep 1
done
cat <<MSG

Calypso is running.
  workspace  $URL   (id $WS; secrets in $DATA/workspace.json; logs $DATA/logs/workspace.log)
  agent      state $DATA/agent   (logs $DATA/logs/agent.log; status: .venv/bin/calypso agent status --state $DATA/agent)
  syslog     send to udp/tcp 127.0.0.1:5514

Try (these variables point the CLI at the workspace):
  export CALYPSO_URL=$URL CALYPSO_WORKSPACE_ID=$WS CALYPSO_TOKEN=$TOKEN CALYPSO_CA=$CA
  .venv/bin/calypso query 'Heartbeat | summarize count() by Computer'
  .venv/bin/calypso query 'Perf | where CounterName == "% Processor Time" and InstanceName == "_Total" | summarize avg(CounterValue) by bin(TimeGenerated, 1m)'
  .venv/bin/calypso query 'Syslog | project TimeGenerated, Computer, Facility, SeverityLevel, SyslogMessage | take 10'

Stop everything with: make stop
MSG
