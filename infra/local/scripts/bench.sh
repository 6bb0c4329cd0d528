#!/usr/bin/env bash
# `make bench`: sync throughput and Lambda cold start, measured here (see infra/bench).
# Arguments (or BENCH_ARGS, with make) go to the bench: `--cold-start-only`, `--webhooks-only`, `--insights-only`; `--baseline DIR`
# also starts the binaries of another release build (e.g. a copy of target/release from main)
# side by side with these, round after round, and shows both.
set -euo pipefail
cd "$(dirname "$0")/../../.."
# shellcheck disable=SC2206
set -- "$@" ${BENCH_ARGS:-}
EMULATOR_PORT="${BENCH_EMULATOR_PORT:-4598}"
source infra/local/scripts/env.sh

pids=()
trap '[ ${#pids[@]} -gt 0 ] && kill "${pids[@]}" 2>/dev/null || true' EXIT INT TERM
echo "==> building release binaries (LTO; the first build takes a few minutes)"
cargo build --quiet --release --bin catalog --bin connections --bin sync-api --bin sync-worker --bin sync-scheduler --bin automations-api --bin automations-runner --bin hooks-api --bin hooks-worker --bin webhooks --bin bench
target="${CARGO_TARGET_DIR:-target}"
if [[ " $* " != *" --cold-start-only "* ]]; then
  pid="$(start_emulator)"; [ -n "$pid" ] && pids+=("$pid")
fi
"$target/release/bench" "$target/release" "$@"
if ls "$target"/lambda/*/bootstrap.zip >/dev/null 2>&1; then
  echo
  echo "Lambda packages (from make build: arm64, zipped)"
  ls -l "$target"/lambda/*/bootstrap.zip | awk '{ printf "  %-44s %6.2f MB\n", $9, $5 / 1048576 }'
fi
