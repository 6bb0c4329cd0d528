#!/usr/bin/env bash
# The API against its contract: schemathesis generates requests from openapi.yaml (its examples,
# boundary values, random and wrong data, and sequences that follow the document's links from a
# new connection) and sends them to a dev server of its own (with the fake providers, on the
# emulator at AWS_ENDPOINT_URL), checking every answer: no 5xx, documented statuses, content
# types, headers and schemas, bad data refused, good data accepted, problem+json errors.
#
#   infra/local/scripts/contract.sh        (make test runs it; needs a running emulator:
#                                           EMULATOR_PORT, else the one AWS_ENDPOINT_URL names)
#
# CONTRACT_MAX_EXAMPLES (default 25) bounds the cases per operation and phase, and so the run
# time (about a minute on a 2-core machine). The report is in .local/contract/.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# The caller's emulator (make test's private one) when it names one, else env.sh's default.
EMULATOR_PORT="${EMULATOR_PORT:-}"
[ -z "$EMULATOR_PORT" ] && [ -n "${AWS_ENDPOINT_URL:-}" ] && EMULATOR_PORT="${AWS_ENDPOINT_URL##*:}"
EMULATOR_PORT="${EMULATOR_PORT:-4566}"
source infra/local/scripts/env.sh
# On make test's emulator IAM is on: the dev server calls as the harness's admin, as the tests'
# setup does (env.sh's default credentials are refused there).
iam_env=".local/emulator-iam-${EMULATOR_PORT}.env"
# shellcheck disable=SC1090
[ -f "$iam_env" ] && source "$iam_env"

target="${CARGO_TARGET_DIR:-target}"
curl -s -o /dev/null "${AWS_ENDPOINT_URL}/moto-api/" \
  || { echo "error: no AWS emulator answers at ${AWS_ENDPOINT_URL} (make test starts one)" >&2; exit 1; }
free_port() { .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fakes="127.0.0.1:$(free_port)"
dev="127.0.0.1:$(free_port)"
id="contract-$(date +%s)-$$"
mkdir -p .local/contract

pids=()
stop_all() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT INT TERM

"$target/debug/fake-providers" --addr "$fakes" > .local/contract/fake-providers.log 2>&1 &
pids+=($!)
wait_for_url "http://$fakes/_fake/health" 30
while IFS='=' read -r name value; do export "$name=$value"; done \
  < <(infra/local/scripts/fake-env.sh "$fakes" "$dev")
# Tables, secrets and queues of their own on the shared emulator.
TABLE_NAME="$id" SECRETS_PREFIX="$id" SYNC_QUEUE_NAME="$id" SYNC_DLQ_NAME="$id-dlq" \
  SYNC_QUEUE_URL="${AWS_ENDPOINT_URL}/123456789012/$id" DEV_SERVER_ADDR="$dev" RUST_LOG=warn \
  "$target/debug/dev-server" > .local/contract/dev-server.log 2>&1 &
pids+=($!)
wait_for_url "http://$dev/web-config.json" 60 \
  || { echo "the dev server's log (.local/contract/dev-server.log):" >&2; head -5 .local/contract/dev-server.log >&2; exit 1; }

# A premium user's dev token, as the page gets one (POST /dev/token).
token=$(curl -sf -X POST "http://$dev/dev/token" -H 'content-type: application/json' \
  -d '{"userId":"contract-tester","plan":"premium"}' | .venv/bin/python -c 'import json, sys; print(json.load(sys.stdin)["token"])')

.venv/bin/st --config-file infra/local/schemathesis.toml run openapi.yaml --url "http://$dev" \
  --header "Authorization: Bearer $token" \
  --checks all \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${CONTRACT_MAX_EXAMPLES:-25}" \
  --seed "${CONTRACT_SEED:-9}" \
  --workers 1 \
  --request-timeout 20 \
  --report junit --report-dir .local/contract
