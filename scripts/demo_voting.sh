#!/usr/bin/env bash
# Switches the running meta-agent live through the four voting strategies, through its API,
# and after each switch prints the newest decisions.meta explanations made under it.
#
# Needs a running platform (`make up`) and curl and jq. The strategy and weights in force
# before the demo are put back at the end.
#
#   scripts/demo_voting.sh                          # against http://localhost:8003
#   ATP_META_URL=http://127.0.0.1:18003 scripts/demo_voting.sh
#
# Environment: ATP_META_URL (meta-agent base URL), ATP_API_TOKEN (bearer token, if the platform
# has one), DEMO_DECISIONS (decisions to show per strategy, default 3), DEMO_TIMEOUT (seconds
# to wait for them, default 30).
set -euo pipefail

META=${ATP_META_URL:-http://localhost:8003}
SHOW=${DEMO_DECISIONS:-3}
TIMEOUT=${DEMO_TIMEOUT:-30}
AUTH=()
if [[ -n "${ATP_API_TOKEN:-}" ]]; then
    AUTH=(-H "Authorization: Bearer ${ATP_API_TOKEN}")
fi

get() { curl -sSf "${META}$1"; }
send() { # method path json
    curl -sSf -X "$1" "${AUTH[@]}" -H 'Content-Type: application/json' "${META}$2" -d "$3"
}

# The ids of the decisions the meta-agent remembers now: what the switch did not decide.
known_ids() { get "/decisions?limit=1000" | jq -c 'map(.decision_id)'; }

# Waits for $SHOW decisions of `strategy` made after the switch (windows opened before it
# still decide under the old strategy), then prints them, newest first.
show_decisions() { # strategy known-ids
    local strategy=$1 known=$2 deadline=$((SECONDS + TIMEOUT)) found=0
    local fresh='[.[] | select(.decision_id as $id | $known | index($id) | not)]'
    while ((SECONDS < deadline)); do
        found=$(get "/decisions?strategy=${strategy}&limit=${SHOW}" |
            jq --argjson known "$known" "${fresh} | length")
        ((found >= SHOW)) && break
        sleep 0.5
    done
    if ((found == 0)); then
        echo "  (no ${strategy} decision within ${TIMEOUT}s: are market-data and agents running?)"
        return
    fi
    get "/decisions?strategy=${strategy}&limit=${SHOW}" | jq -r --argjson known "$known" "${fresh}"'
        | .[] |
        "  \(.symbol) \(.signal_id): \(.action) \(.quantity)"
        + (if .action == "hold" then "" else " approved=\(.approved)" end)
        + "  tally buy \(.tally.buy) sell \(.tally.sell) hold \(.tally.hold)"
        + " abstain \(.tally.abstain), threshold \(.threshold), quorum \(.quorum)\n"
        + "    \(.explanation)\n"'
}

switch() { # title strategy-json
    echo "== $1"
    local known
    known=$(known_ids)
    send PUT /strategy "$2" | jq -c '{name, params, action_id}' | sed 's/^/  PUT \/strategy -> /'
    show_decisions "$(jq -r .name <<<"$2")" "$known"
}

echo "meta-agent at ${META}"
initial_strategy=$(get /strategy | jq -c '{name, params}')
initial_weights=$(get /agents | jq -c '[.[] | {agent_id, weight}]')
echo "  strategy now: ${initial_strategy}"
echo "  agents now:   $(jq -c 'map("\(.agent_id)=\(.weight)")' <<<"$initial_weights")"

restore() {
    echo "== putting back ${initial_strategy} and the weights"
    send PUT /strategy "$initial_strategy" >/dev/null
    jq -c '.[]' <<<"$initial_weights" | while read -r agent; do
        send PUT "/agents/$(jq -r .agent_id <<<"$agent")/weight" \
            "$(jq -c '{weight}' <<<"$agent")" >/dev/null
    done
}
trap restore EXIT

switch "majority: more than half of the voters on one side" \
    '{"name": "majority", "params": {"quorum": 2}}'

echo "== weights: momentum 2, mean_reversion 1, sma_crossover 0.5"
for pair in momentum:2 mean_reversion:1 sma_crossover:0.5; do
    send PUT "/agents/${pair%%:*}/weight" "{\"weight\": ${pair##*:}}" |
        jq -c '{agent_id, weight, effective_weight}' | sed 's/^/  /'
done
switch "weighted: a side's share of the weight reaches 0.5" \
    '{"name": "weighted", "params": {"threshold": 0.5, "quorum": 1}}'

switch "unanimous: every voter on one side" \
    '{"name": "unanimous", "params": {"quorum": 2}}'

switch "confidence_weighted: weight x confidence reaches 0.55" \
    '{"name": "confidence_weighted", "params": {"threshold": 0.55, "quorum": 1}}'
