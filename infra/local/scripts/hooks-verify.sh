#!/usr/bin/env bash
# A real REST-hook delivery checked with the reference Standard Webhooks verifier (PyPI
# `standardwebhooks`): a dev server of its own (with the fake providers, on the emulator at
# AWS_ENDPOINT_URL) syncs the fake Trello into a hook, and infra/local/tests/verify_hook_delivery.py
# verifies what the fake receiver got. `make test` runs it; the binaries must be built.
set -euo pipefail
cd "$(dirname "$0")/../../.."
EMULATOR_PORT="${EMULATOR_PORT:-}"
[ -z "$EMULATOR_PORT" ] && [ -n "${AWS_ENDPOINT_URL:-}" ] && EMULATOR_PORT="${AWS_ENDPOINT_URL##*:}"
EMULATOR_PORT="${EMULATOR_PORT:-4566}"
source infra/local/scripts/env.sh
iam_env=".local/emulator-iam-${EMULATOR_PORT}.env"
# shellcheck disable=SC1090
[ -f "$iam_env" ] && source "$iam_env"

target="${CARGO_TARGET_DIR:-target}"
free_port() { .venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
fakes="127.0.0.1:$(free_port)"
dev="127.0.0.1:$(free_port)"
id="hooks-$(date +%s)-$$"
mkdir -p .local/hooks-verify

pids=()
stop_all() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT INT TERM

"$target/debug/fake-providers" --addr "$fakes" > .local/hooks-verify/fake-providers.log 2>&1 &
pids+=($!)
wait_for_url "http://$fakes/_fake/health" 30
while IFS='=' read -r name value; do export "$name=$value"; done \
  < <(infra/local/scripts/fake-env.sh "$fakes" "$dev")
# Its own table, secrets and queues on the shared emulator; http://127.0.0.1 targets allowed.
TABLE_NAME="$id" SECRETS_PREFIX="$id" SYNC_QUEUE_NAME="$id" SYNC_DLQ_NAME="$id-dlq" \
  AUTOMATIONS_QUEUE_NAME="$id-automations" AUTOMATIONS_DLQ_NAME="$id-automations-dlq" \
  HOOKS_QUEUE_NAME="$id-hooks" HOOKS_DLQ_NAME="$id-hooks-dlq" HOOKS_ALLOW_LOOPBACK=true \
  DEV_SERVER_ADDR="$dev" RUST_LOG=warn \
  "$target/debug/dev-server" > .local/hooks-verify/dev-server.log 2>&1 &
pids+=($!)
wait_for_url "http://$dev/web-config.json" 60 \
  || { echo "the dev server's log (.local/hooks-verify/dev-server.log):" >&2; head -5 .local/hooks-verify/dev-server.log >&2; exit 1; }

.venv/bin/python infra/local/tests/verify_hook_delivery.py "http://$dev" "http://$fakes"
