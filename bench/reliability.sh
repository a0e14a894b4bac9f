#!/usr/bin/env bash
# The faults of docs/reliability.md as scenarios against any lakestream binary, one line of outcome each, so
# that two versions can be compared (the tests in tests/e2e/reliability_test.cc and hostile_http_test.cc
# assert the same against the current build):
#
#   bench/reliability.sh build/release/lakestream                  # this version
#   git worktree add /tmp/old 9da11db && (cd /tmp/old && ./lakestream.sh build)
#   bench/reliability.sh /tmp/old/build/release/lakestream         # the version before issue #20
#
# Needs /usr/bin/python3 with confluent-kafka (scripts/bootstrap.sh installs it) and curl. Takes about 5 minutes.
set -uo pipefail
BIN=$(readlink -f "${1:?usage: bench/reliability.sh LAKESTREAM_BINARY [scenario…]}")
shift
ROOT=$(cd "$(dirname "$0")/.." && pwd)
UCI=$ROOT/data/online-shop/online_retail.first-9999-rows.orig-format.csv.gz
BURST=$ROOT/tests/e2e/produce_burst.py
WORK=$(mktemp -d /tmp/lakestream-reliability.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -eq 0 ] && SCENARIOS=(double_start broker_restart eviction restart_time version_overflow number_underflow
                                         truncated_job replaced_file host_header keep_alive slow_connections)

count() {  # count() LAKE TABLE: rows in silver/orders etc. through `lakestream sql`
  "$BIN" sql --lakehouse "$1" --format csv "SELECT count(*) AS n FROM $2" 2>/dev/null | tail -1
}
wait_file() { for _ in $(seq 1 100); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
broker_address() { sed -n 's/^bootstrap.servers=//p' "$1/_broker"; }

double_start() {  # two ingest processes on one lakehouse while 9,999 lines are produced
  local d=$WORK/double; mkdir -p "$d"
  "$BIN" broker --lakehouse "$d" > "$d/broker.txt" 2>&1 & local b=$!
  wait_file "$d/_broker" bootstrap
  "$BIN" ingest --lakehouse "$d" --follow --no-http --commit-interval-ms 200 > "$d/a.txt" 2>&1 & local a=$!
  wait_file "$d/a.txt" assigned
  "$BIN" produce --lakehouse "$d" --input "$UCI" --rate 400 > "$d/p.txt" 2>&1 & local p=$!
  sleep 3
  "$BIN" ingest --lakehouse "$d" --follow --no-http --commit-interval-ms 200 > "$d/b.txt" 2>&1 & local c=$!
  wait $p; sleep 8
  kill -INT $a $c 2>/dev/null; wait $a; local rc_a=$?; wait $c; local rc_b=$?
  "$BIN" ingest --lakehouse "$d" --no-http --idle-exit-ms 3000 > "$d/final.txt" 2>&1; local rc=$?
  kill -INT $b; wait $b
  echo "double_start: second ingest rc $rc_b ($(grep -o 'ConcurrentTransaction\|another lakestream process is writing' "$d/b.txt" | head -1)); restart rc $rc; silver $(count "$d" silver.orders) of 9999 lines"
}

broker_restart() {  # 4,000 lines, broker restarted, 4,000 more lines, then ingest
  local d=$WORK/restart; mkdir -p "$d"
  (zcat "$UCI" | head -4001) | gzip > "$d/a.csv.gz"; (zcat "$UCI" | head -1; zcat "$UCI" | sed -n '4002,8001p') | gzip > "$d/b.csv.gz"
  "$BIN" broker --lakehouse "$d" > "$d/broker1.txt" 2>&1 & local b=$!
  wait_file "$d/_broker" bootstrap
  "$BIN" produce --lakehouse "$d" --input "$d/a.csv.gz" --rate max > /dev/null 2>&1
  "$BIN" ingest --lakehouse "$d" --no-http --idle-exit-ms 3000 > "$d/i1.txt" 2>&1
  kill -INT $b; wait $b; rm -f "$d/_broker"
  "$BIN" broker --lakehouse "$d" > "$d/broker2.txt" 2>&1 & b=$!
  wait_file "$d/_broker" bootstrap
  "$BIN" produce --lakehouse "$d" --input "$d/b.csv.gz" --rate max > /dev/null 2>&1
  "$BIN" ingest --lakehouse "$d" --no-http --idle-exit-ms 3000 > "$d/i2.txt" 2>&1; local rc=$?
  kill -INT $b; wait $b
  echo "broker_restart: ingest after the restart rc $rc; silver $(count "$d" silver.orders) of 8000 lines"
}

eviction() {  # 20,000 events of ~1 KB on one partition while ingest is down, then ingest, twice
  local d=$WORK/evict; mkdir -p "$d"
  "$BIN" broker --lakehouse "$d" --partitions 1 > "$d/broker.txt" 2>&1 & local b=$!
  wait_file "$d/_broker" bootstrap
  timeout 120 /usr/bin/python3 "$BURST" "$(broker_address "$d")" orders 20000 1000 > "$d/burst.txt" 2>&1 & local p=$!
  sleep 10
  "$BIN" ingest --lakehouse "$d" --no-http --idle-exit-ms 4000 > "$d/i1.txt" 2>&1; local rc1=$?
  wait $p
  "$BIN" ingest --lakehouse "$d" --no-http --idle-exit-ms 3000 > "$d/i2.txt" 2>&1; local rc2=$?
  kill -INT $b; wait $b
  echo "eviction: producer '$(tail -1 "$d/burst.txt")'; ingest rc $rc1 then $rc2; bronze $(count "$d" bronze.orders) of 20000 events"
}

restart_time() {  # seconds from an ingest's start to its partitions, after a clean stop and after SIGKILL
  local d=$WORK/rt; mkdir -p "$d"
  "$BIN" broker --lakehouse "$d" > "$d/broker.txt" 2>&1 & local b=$!
  wait_file "$d/_broker" bootstrap
  "$BIN" ingest --lakehouse "$d" --follow --no-http > "$d/i0.txt" 2>&1 & local i=$!
  for _ in $(seq 1 300); do grep -q assigned "$d/i0.txt" && break; sleep 0.1; done
  local out=""
  for sig in INT KILL; do
    sleep 2; kill -$sig $i; wait $i 2>/dev/null
    local t0; t0=$(date +%s.%N)
    "$BIN" ingest --lakehouse "$d" --follow --no-http > "$d/i-$sig.txt" 2>&1 & i=$!
    for _ in $(seq 1 1500); do grep -q assigned "$d/i-$sig.txt" && break; sleep 0.1; done
    out+=" after SIG$sig $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-4) s;"
  done
  kill -INT $i; wait $i; kill -INT $b; wait $b
  echo "restart_time:$out"
}

version_overflow() {
  local d=$WORK/small; [ -d "$d" ] || "$BIN" run --lakehouse "$d" --input "$UCI" --rate max --no-http > /dev/null 2>&1
  "$BIN" sql --lakehouse "$d" "SELECT count(*) FROM silver.orders VERSION AS OF 99999999999999999999" > "$WORK/v.txt" 2>&1
  echo "version_overflow: sql rc $? ($(tail -1 "$WORK/v.txt" | cut -c1-80))"
}

number_underflow() {  # an order event whose Price is 1e-400, produced by confluent-kafka
  local d=$WORK/num; mkdir -p "$d"
  "$BIN" broker --lakehouse "$d" > "$d/broker.txt" 2>&1 & local b=$!
  wait_file "$d/_broker" bootstrap
  /usr/bin/python3 - "$(broker_address "$d")" <<'EOF'
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1]})
e = '{"event_type":"order_line","schema_version":1,"event_id":"u-1","Date":"2011-12-10 09:00:00","TransactionNo":"990001","ProductNo":"P1","ProductName":"X","Quantity":2,"CustomerNo":"12345","Country":"United Kingdom","Price":1e-400}'
p.produce("orders", key=b"990001", value=e.encode()); p.flush(10)
EOF
  "$BIN" ingest --lakehouse "$d" --no-http --idle-exit-ms 2000 > /dev/null 2>&1
  kill -INT $b; wait $b
  echo "number_underflow: silver rows with price 0: $("$BIN" sql --lakehouse "$d" --format csv "SELECT count(*) FROM silver.orders WHERE unit_price_gbp = 0" 2>/dev/null | tail -1), quarantined: $(count "$d" silver.orders_quarantine)"
}

truncated_job() {  # a JSON array without its closing bracket
  local d=$WORK/job; mkdir -p "$d/in"
  zcat -f "$ROOT/data/communication-platform/hour=13.json" | head -c -3 > "$d/in/hour=13.json"
  "$BIN" job run chatbot --jobs-dir "$ROOT/jobs" --input "$d/in/hour=13.json" --lakehouse "$d/lake" > "$d/out.txt" 2>&1
  echo "truncated_job: job run rc $? ($(grep -o 'cut short[^:]*' "$d/out.txt" | head -1))"
}

replaced_file() {  # a silver data file replaced by a bronze one
  local d=$WORK/small; [ -d "$d" ] || "$BIN" run --lakehouse "$d" --input "$UCI" --rate max --no-http > /dev/null 2>&1
  cp -a "$d" "$WORK/replaced"; d=$WORK/replaced
  cp "$(ls "$d"/bronze/orders/*.parquet | head -1)" "$(ls "$d"/silver/orders/*.parquet | head -1)"
  "$BIN" sql --lakehouse "$d" --format csv "SELECT count(*) FROM silver.orders" > "$WORK/r.txt" 2>&1
  echo "replaced_file: sql rc $? ($(tail -1 "$WORK/r.txt" | cut -c1-80))"
}

start_serve() {  # `serve` over the small lakehouse on a free port, with extra flags: sets SERVE_PID and PORT
  local d=$WORK/small; [ -d "$d" ] || "$BIN" run --lakehouse "$d" --input "$UCI" --rate max --no-http > /dev/null 2>&1
  "$BIN" serve --lakehouse "$d" --http 127.0.0.1:0 "$@" > "$WORK/serve.txt" 2>&1 &
  SERVE_PID=$!
  wait_file "$WORK/serve.txt" dashboard
  PORT=$(sed -n 's|.*dashboard: http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$WORK/serve.txt")
}
stop_serve() { kill -INT "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null; }

host_header() {
  start_serve
  echo "host_header: GET /api/v1/tables with Host: evil.example -> $(curl -s -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "http://127.0.0.1:$PORT/api/v1/tables")"
  stop_serve
}

keep_alive() {  # 20 requests over one connection
  start_serve
  local urls=(); for _ in $(seq 1 20); do urls+=("http://127.0.0.1:$PORT/api/v1/tables"); done
  local t0; t0=$(date +%s.%N)
  curl -s "${urls[@]}" > /dev/null
  echo "keep_alive: 20 requests on one connection in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"
  stop_serve
}

slow_connections() {  # 200 connections sending a header byte now and then; /healthz meanwhile (48 workers)
  start_serve --http-max-stream-clients 16
  /usr/bin/python3 - "$PORT" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
slow = []
for i in range(200):
    s = socket.socket(); s.bind(("127.0.0.2", 0)); s.connect(("127.0.0.1", port))
    s.send(b"GET /api/v1/tables HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "); slow.append(s)
ms, fails = [], 0
end = time.time() + 8
while time.time() < end:
    for s in slow:
        try: s.send(b"a")
        except OSError: pass
    t = time.time()
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=2)
        c.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        ok = c.recv(100).startswith(b"HTTP/1.1 200"); c.close()
    except OSError:
        ok = False
    ms.append((time.time() - t) * 1000); fails += not ok
    time.sleep(0.2)
ms.sort()
print(f"slow_connections: /healthz during 200 slow connections: {len(ms)} requests, {fails} failed, p50 {ms[len(ms)//2]:.1f} ms, max {ms[-1]:.1f} ms")
EOF
  stop_serve
}

echo "# $BIN ($("$BIN" --version 2>/dev/null)), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
for s in "${SCENARIOS[@]}"; do "$s"; done
