#!/usr/bin/env bash
# The risk engine's demo against a running platform, with curl (issue 4; docs/risk.md).
#
# Start the platform first, in another terminal, on a fresh var dir and with these settings
# (AAPL's real closes of 12-16 March 2020, one bar every 5 s; a 50-share cap on AAPL; a 200
# daily-loss limit that moves trading to REDUCING, with the trading day taken from the bars):
#
#   ATP_VAR_DIR=var/risk-demo \
#   ATP_RISK_LIMITS='{"daily_loss":{"max_loss":"200","action":"reducing","day_boundary":"market"},"position_caps":{"per_symbol":{"AAPL":{"max_quantity":"50"}}}}' \
#   ATP_MARKET_DATA_SYMBOLS='["AAPL"]' ATP_MARKET_DATA_START=2020-03-12 \
#   ATP_MARKET_DATA_END=2020-03-16 ATP_MARKET_DATA_WARMUP_BARS=0 ATP_MARKET_DATA_SPEED=0.2 \
#   make up
#
# Then run this script. It needs curl and jq. Set ATP_API_TOKEN if the platform has one.
set -euo pipefail

MARKET=${MARKET:-http://127.0.0.1:8001}
META=${META:-http://127.0.0.1:8003}
BROKER=${BROKER:-http://127.0.0.1:8006}
AUTH=()
if [[ -n "${ATP_API_TOKEN:-}" ]]; then AUTH=(-H "Authorization: Bearer ${ATP_API_TOKEN}"); fi

say() { printf '\n== %s\n' "$*"; }
state() { curl -fsS "$META/risk/state" | jq -c "{trading_state, trading_day, day_pnl, kill_switch, positions: [.positions[] | {symbol, quantity}]}"; }
order() { # side quantity: POSTs a manual AAPL market order, prints the status and the answer
  curl -sS "${AUTH[@]}" -o /tmp/atp-demo-order.json -w '%{http_code}' -X POST "$BROKER/orders" \
    -H 'Content-Type: application/json' \
    -d "{\"symbol\":\"AAPL\",\"side\":\"$1\",\"quantity\":$2,\"order_type\":\"market\"}"
  printf ' '; jq -c 'if .code then {code, message} else {status, filled_quantity, price: .fills[0].price} end' /tmp/atp-demo-order.json
}
wait_until() { # description jq-filter-on-risk-state
  for _ in $(seq 1 300); do
    if curl -fsS "$META/risk/state" | jq -e "$2" >/dev/null; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $1" >&2; exit 1
}
violations() { curl -fsS "$META/risk/violations?limit=5" | jq -c '.[] | {rule, message, trading_state}'; }
metric() { curl -fsS "$META/metrics" | grep '^atp_risk_violations_total' || true; }

say "Waiting for Friday 2020-03-13's bar to reach the risk engine, then pausing the replay"
wait_until "Friday's bar" '.trading_day == "2020-03-13"'
curl -fsS "${AUTH[@]}" -X POST "$MARKET/control/pause" | jq -c '{paused, cursor}'
state

say "1. Position cap: buy 40 AAPL (passes), then 20 more (would make 60 > cap 50)"
order buy 40
order buy 20
violations
metric

say "2. Real drop: resume the replay; Monday 2020-03-16 closes 12.9% lower"
curl -fsS "${AUTH[@]}" -X POST "$MARKET/control/resume" | jq -c '{paused, cursor}'
wait_until "REDUCING" '.trading_state == "reducing"'
state
echo "a buy is refused in REDUCING; a sell that shrinks the position passes:"
order buy 1
order sell 10
violations
metric

say "3. Kill switch by HTTP POST: everything halts, even a reducing sell"
curl -fsS "${AUTH[@]}" -X POST "$META/risk/kill-switch" -H 'Content-Type: application/json' \
  -d '{"reason": "demo"}' | jq -c '{trading_state, kill_switch, kill_switch_reason}'
order sell 10
violations
metric

say "Reset with: curl -X POST $META/risk/kill-switch/reset; curl -X POST $META/risk/daily-pnl/reset"
echo "Watch the subject live with: nats sub risk.violations (or any NATS client)"
