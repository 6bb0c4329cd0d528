#!/usr/bin/env bash
# `make dev`: the emulator, (optionally) the fake providers, and the dev server with the API,
# the page, the sync worker and the scheduler. Ctrl-C stops everything this script started.
set -euo pipefail
cd "$(dirname "$0")/../../.."
source infra/local/scripts/env.sh

pids=()
stop_all() {
  trap - EXIT INT TERM
  if [ ${#pids[@]} -gt 0 ]; then
    echo "==> stopping ${#pids[@]} process(es) started by make dev"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all EXIT INT TERM

echo "==> building the dev server"
cargo build --quiet --bin dev-server --bin fake-providers

pid="$(start_emulator)"; [ -n "$pid" ] && pids+=("$pid")

if [ "${FAKE_PROVIDERS:-0}" = 1 ]; then
  fakes="${FAKES_ADDR:-127.0.0.1:4010}"
  echo "==> starting fake provider APIs on $fakes (FAKE_PROVIDERS=1)"
  target/debug/fake-providers --addr "$fakes" > .local/fake-providers.log 2>&1 &
  pids+=($!)
  wait_for_url "http://$fakes/" 20
  # Every connector and OAuth client points at the fakes; the callback at this dev server.
  while IFS='=' read -r name value; do export "$name=$value"; done \
    < <(infra/local/scripts/fake-env.sh "$fakes" "${DEV_SERVER_ADDR:-127.0.0.1:3000}")
  echo "    demo credentials: see infra/fakes/README.md"
fi

export WEB_DIR="${WEB_DIR:-web}"
target/debug/dev-server &
pids+=($!)
wait "${pids[@]: -1}"
