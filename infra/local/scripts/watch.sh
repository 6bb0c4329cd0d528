#!/usr/bin/env bash
# `make watch`: cargo lambda watch serves each function at
# http://127.0.0.1:9000/lambda-url/<function>/<path>, against the emulator of `make dev`
# (started here if none is running). Tokens: the dev server's, or `POST /dev/token`.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source infra/local/scripts/env.sh
export PATH="$PWD/.venv/bin:$PATH"

pids=()
trap '[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
pid="$(start_emulator)"; [ -n "$pid" ] && pids+=("$pid")
cargo run --quiet --bin bootstrap-local

env_file=.local/watch.env
env | grep -E '^(AWS_|TABLE_NAME|SECRETS_PREFIX|SYNC_QUEUE_URL|AUTOMATIONS_QUEUE_URL|HOOKS_QUEUE_URL|HOOKS_ALLOW_LOOPBACK|AUTH_MODE|DEV_JWT_SECRET|RUST_LOG|[A-Z_]+_API_BASE_URL)=' > "$env_file"
echo "==> cargo lambda watch on http://127.0.0.1:9000/lambda-url/<function>/…"
cargo lambda watch --invoke-address 127.0.0.1 --invoke-port 9000 --env-file "$env_file"
