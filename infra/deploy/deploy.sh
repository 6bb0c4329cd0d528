#!/usr/bin/env bash
# The steps after `sam deploy`: upload the page (web/) to the stack's bucket, write
# web-config.json (how the page signs in) next to it, and invalidate CloudFront's cache.
#
#   infra/deploy/deploy.sh
#
# STACK_NAME (default director-of-one-integrations) names the stack; the AWS CLI finds the
# account and region as usual (AWS_PROFILE, AWS_REGION, ...): use the same as for sam deploy.
# With an external issuer (JwtIssuer set) the stack has no Cognito client, so give the page's
# OIDC_CLIENT_ID, OIDC_AUTHORIZE_URL and OIDC_TOKEN_URL in the environment.
set -euo pipefail
cd "$(dirname "$0")/../.."

STACK_NAME="${STACK_NAME:-director-of-one-integrations}"

die() {
  echo "deploy.sh: $*" >&2
  exit 1
}

command -v aws >/dev/null 2>&1 \
  || die "the AWS CLI (aws) is not installed or not on PATH; see https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"

echo "==> reading the outputs of stack ${STACK_NAME}"
declare -A out=() param=()
stack_rows() { # $1: Outputs or Parameters
  local key="OutputKey" value="OutputValue"
  [[ $1 == Parameters ]] && key="ParameterKey" value="ParameterValue"
  aws cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query "Stacks[0].$1[].[$key,$value]" --output text
}
rows=$(stack_rows Outputs) || die "could not describe stack ${STACK_NAME} (deployed? right account and region? STACK_NAME set?)"
while IFS=$'\t' read -r key value; do
  [[ -n $key ]] && out[$key]=$value
done <<<"$rows"
rows=$(stack_rows Parameters) || die "could not read the parameters of stack ${STACK_NAME}"
while IFS=$'\t' read -r key value; do
  [[ -n $key ]] && param[$key]=${value:-}
done <<<"$rows"

output() { # the named output, or a clear failure
  [[ -n ${out[$1]:-} ]] || die "stack ${STACK_NAME} has no output $1; deploy the current template.yaml with sam deploy first"
  printf '%s' "${out[$1]}"
}
bucket=$(output WebBucketName)
distribution=$(output WebDistributionId)
site_url=$(output SiteUrl)
issuer=$(output OidcIssuer)
client_id=${OIDC_CLIENT_ID:-${out[OidcClientId]:-}}
authorize_url=${OIDC_AUTHORIZE_URL:-${out[OidcAuthorizeUrl]:-}}
token_url=${OIDC_TOKEN_URL:-${out[OidcTokenUrl]:-}}
[[ -n $client_id && -n $authorize_url && -n $token_url ]] \
  || die "the stack uses an external issuer (${issuer}): set OIDC_CLIENT_ID, OIDC_AUTHORIZE_URL and OIDC_TOKEN_URL for the page"

echo "==> uploading web/ to s3://${bucket}/"
# Browsers revalidate every file (cheap 304s; the modules are not content-hashed), CloudFront
# keeps them a day or until the invalidation below. web-config.json is excluded so --delete
# leaves the one written below in place.
aws s3 sync web/ "s3://${bucket}/" --delete \
  --exclude 'node_modules/*' --exclude 'tests/*' --exclude 'test-output/*' \
  --exclude 'package*.json' --exclude README.md \
  --exclude '.*' --exclude '*/.*' --exclude web-config.json \
  --cache-control 'public, max-age=0, must-revalidate, s-maxage=86400'

json() { # a JSON string
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}
echo "==> writing s3://${bucket}/web-config.json"
printf '{"auth":{"mode":"oidc","issuer":%s,"clientId":%s,"authorizeUrl":%s,"tokenUrl":%s,"scopes":["openid","email","profile"]}}\n' \
  "$(json "$issuer")" "$(json "$client_id")" "$(json "$authorize_url")" "$(json "$token_url")" \
  | aws s3 cp - "s3://${bucket}/web-config.json" --content-type application/json --cache-control no-cache

echo "==> invalidating CloudFront distribution ${distribution}"
invalidation=$(aws cloudfront create-invalidation --distribution-id "$distribution" --paths '/*' \
  --query Invalidation.Id --output text)
echo "    invalidation ${invalidation} (takes a few minutes)"

site_domain=${site_url#https://}
if [[ ${param[SiteDomain]:-} != "$site_domain" ]]; then
  cat >&2 <<EOF

NOTE: the stack's SiteDomain parameter is '${param[SiteDomain]:-}', not '${site_domain}'.
Until it is, signing in on ${site_url} is refused by Cognito (unknown redirect_uri) and no
integration offers OAuth sign-in. Run \`sam deploy --guided\` once more and answer
SiteDomain=${site_domain} (it is saved in samconfig.toml); see infra/deploy/README.md.
EOF
fi
echo "==> done: ${site_url}/integrations"
