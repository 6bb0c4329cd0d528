#!/usr/bin/env bash
# `make test`: formatting, lints, the template, and every test against a private emulator.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# A port of its own, so tests never touch the data of a running `make dev`.
EMULATOR_PORT="${TEST_EMULATOR_PORT:-4599}"
source infra/local/scripts/env.sh

pids=()
stop_all() {
  trap - EXIT INT TERM
  [ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT INT TERM

echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy (warnings are errors)"
cargo clippy --quiet --workspace --all-targets -- -D warnings
echo "==> cfn-lint template.yaml"
.venv/bin/cfn-lint template.yaml

pid="$(EMULATOR_IAM=1 start_emulator)"; [ -n "$pid" ] && pids+=("$pid")
enable_emulator_iam
echo "==> cargo test (emulator on 127.0.0.1:${EMULATOR_PORT})"
cargo test --workspace

echo "==> browser tests of the page (Chromium via playwright-core)"
cargo build --quiet --bin dev-server --bin fake-providers
(cd web && npm ci --no-audit --no-fund --loglevel=error && node --test tests/)

echo "==> a real hook delivery against the reference Standard Webhooks verifier (PyPI standardwebhooks)"
EMULATOR_PORT="$EMULATOR_PORT" infra/local/scripts/hooks-verify.sh

echo "==> the API against openapi.yaml (schemathesis: every check and phase, stateful included)"
# Its own dev server and fakes on free ports, on the emulator above; the binaries are built above.
EMULATOR_PORT="$EMULATOR_PORT" infra/local/scripts/contract.sh
