# Sourced by the local scripts: the environment every local process shares.
# The AWS SDK reaches the emulator through AWS_ENDPOINT_URL; nothing here talks to AWS.

EMULATOR_PORT="${EMULATOR_PORT:-4566}"
export AWS_ENDPOINT_URL="http://127.0.0.1:${EMULATOR_PORT}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

export TABLE_NAME="${TABLE_NAME:-director-of-one-integrations}"
export SECRETS_PREFIX="${SECRETS_PREFIX:-director-of-one/local}"
export SYNC_QUEUE_NAME="${SYNC_QUEUE_NAME:-director-of-one-sync}"
export SYNC_DLQ_NAME="${SYNC_DLQ_NAME:-director-of-one-sync-dlq}"
export AUTOMATIONS_QUEUE_NAME="${AUTOMATIONS_QUEUE_NAME:-director-of-one-automations}"
export AUTOMATIONS_DLQ_NAME="${AUTOMATIONS_DLQ_NAME:-director-of-one-automations-dlq}"
export HOOKS_QUEUE_NAME="${HOOKS_QUEUE_NAME:-director-of-one-hooks}"
export HOOKS_DLQ_NAME="${HOOKS_DLQ_NAME:-director-of-one-hooks-dlq}"
# Hook and webhook.post targets on http://localhost (the fakes' receivers) are allowed locally
# only; template.yaml never sets this.
export HOOKS_ALLOW_LOOPBACK="${HOOKS_ALLOW_LOOPBACK:-true}"
export AUTH_MODE=dev
export RUST_LOG="${RUST_LOG:-info}"

# A per-checkout signing secret for local dev tokens, made on first use, never committed.
mkdir -p .local
if [ ! -s .local/dev-jwt-secret ]; then
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > .local/dev-jwt-secret
fi
DEV_JWT_SECRET="$(cat .local/dev-jwt-secret)"
export DEV_JWT_SECRET

# Waits until a URL answers (any HTTP status), up to $2 seconds.
wait_for_url() {
  local url="$1" timeout="${2:-30}" i=0
  until curl -s -o /dev/null "$url"; do
    i=$((i + 1))
    if [ "$i" -gt $((timeout * 10)) ]; then
      echo "error: $url did not answer within ${timeout}s" >&2
      return 1
    fi
    sleep 0.1
  done
}

# Starts moto on EMULATOR_PORT unless one already answers there; prints its pid (or nothing).
# EMULATOR_IAM=1 starts it authorizing every request (then run enable_emulator_iam).
start_emulator() {
  if curl -s -o /dev/null "http://127.0.0.1:${EMULATOR_PORT}/moto-api/"; then
    echo "==> using the AWS emulator already running on 127.0.0.1:${EMULATOR_PORT}" >&2
    return 0
  fi
  echo "==> starting the AWS emulator (moto) on 127.0.0.1:${EMULATOR_PORT}" >&2
  local no_auth=inf
  [ "${EMULATOR_IAM:-0}" = 1 ] && no_auth=0
  INITIAL_NO_AUTH_ACTION_COUNT="$no_auth" \
    .venv/bin/python infra/local/scripts/emulator.py -H 127.0.0.1 -p "${EMULATOR_PORT}" > ".local/moto-${EMULATOR_PORT}.log" 2>&1 &
  echo $!
  wait_for_url "http://127.0.0.1:${EMULATOR_PORT}/moto-api/" 30
}

# Makes the emulator on EMULATOR_PORT enforce IAM: an admin for the test harness and one role per
# function with its policy from template.yaml (infra/local/scripts/emulator-iam.py). Exports their
# credentials, also kept in .local/emulator-iam-<port>.env for running single tests by hand.
enable_emulator_iam() {
  local file=".local/emulator-iam-${EMULATOR_PORT}.env"
  echo "==> IAM on in the emulator: each function's tests call as its role from template.yaml" >&2
  .venv/bin/python infra/local/scripts/emulator-iam.py > "$file"
  # shellcheck disable=SC1090
  source "$file"
}

# The emulator's queue URLs follow its fixed account id.
export SYNC_QUEUE_URL="${AWS_ENDPOINT_URL}/123456789012/${SYNC_QUEUE_NAME}"
export AUTOMATIONS_QUEUE_URL="${AWS_ENDPOINT_URL}/123456789012/${AUTOMATIONS_QUEUE_NAME}"
export HOOKS_QUEUE_URL="${AWS_ENDPOINT_URL}/123456789012/${HOOKS_QUEUE_NAME}"
