#!/usr/bin/env bash
# `make build`: release packages for Lambda on arm64 (Graviton), zipped, with their sizes.
set -euo pipefail
cd "$(dirname "$0")/../../.."
export PATH="$PWD/.venv/bin:$PATH"
if ! rustup target list --installed | grep -q aarch64-unknown-linux-gnu; then
  echo "==> adding the aarch64-unknown-linux-gnu Rust target"
  rustup target add aarch64-unknown-linux-gnu
fi
echo "==> cargo lambda build --release --arm64 (LTO, stripped)"
cargo lambda build --release --arm64 --output-format zip \
  --bin catalog --bin connections --bin sync-api --bin sync-worker --bin sync-scheduler \
  --bin automations-api --bin automations-runner --bin hooks-api --bin hooks-worker --bin webhooks
echo "==> package sizes"
ls -l target/lambda/*/bootstrap.zip | awk '{ printf "  %-50s %8.2f MB\n", $9, $5 / 1048576 }'
