#!/usr/bin/env bash
# Prints KEY=VALUE lines that point every connector and OAuth client at the fake providers
# listening on $1 (host:port) and the callback at the dev server on $2 (host:port).
# Used by `make dev FAKE_PROVIDERS=1` and the browser tests. The client ids and secrets are
# the fakes' own, obviously fake values.
set -euo pipefail
fakes="http://${1:?usage: fake-env.sh FAKES_ADDR DEV_SERVER_ADDR}"
dev="http://${2:?usage: fake-env.sh FAKES_ADDR DEV_SERVER_ADDR}"

cat <<VARS
TRELLO_API_BASE_URL=$fakes/trello
SLACK_API_BASE_URL=$fakes/slack/api
ASANA_API_BASE_URL=$fakes/asana/api/1.0
NOTION_API_BASE_URL=$fakes/notion
GOOGLE_CALENDAR_API_BASE_URL=$fakes/google/calendar/v3
GOOGLE_DRIVE_API_BASE_URL=$fakes/google/drive/v3
MICROSOFT_TEAMS_API_BASE_URL=$fakes/graph/v1.0
OAUTH_REDIRECT_URL=$dev/api/v1/integrations/oauth/callback
WEBHOOK_BASE_URL=$dev
TRELLO_APP_SECRET=fake-trello-app-secret
GOOGLE_CLIENT_ID=fake-google-client-id
GOOGLE_CLIENT_SECRET=fake-google-client-secret
GOOGLE_AUTHORIZE_URL=$fakes/oauth/google/authorize
GOOGLE_TOKEN_URL=$fakes/oauth/google/token
GOOGLE_REVOKE_URL=$fakes/oauth/google/revoke
GOOGLE_USERINFO_URL=$fakes/google/oauth2/v3/userinfo
MICROSOFT_CLIENT_ID=fake-microsoft-client-id
MICROSOFT_CLIENT_SECRET=fake-microsoft-client-secret
MICROSOFT_AUTHORIZE_URL=$fakes/oauth/microsoft/common/oauth2/v2.0/authorize
MICROSOFT_TOKEN_URL=$fakes/oauth/microsoft/common/oauth2/v2.0/token
SLACK_CLIENT_ID=fake-slack-client-id
SLACK_CLIENT_SECRET=fake-slack-client-secret
SLACK_AUTHORIZE_URL=$fakes/oauth/slack/authorize
SLACK_TOKEN_URL=$fakes/slack/api/oauth.v2.access
SLACK_REVOKE_URL=$fakes/slack/api/auth.revoke
ASANA_CLIENT_ID=fake-asana-client-id
ASANA_CLIENT_SECRET=fake-asana-client-secret
ASANA_AUTHORIZE_URL=$fakes/oauth/asana/authorize
ASANA_TOKEN_URL=$fakes/oauth/asana/token
ASANA_REVOKE_URL=$fakes/oauth/asana/revoke
NOTION_CLIENT_ID=fake-notion-client-id
NOTION_CLIENT_SECRET=fake-notion-client-secret
NOTION_AUTHORIZE_URL=$fakes/oauth/notion/authorize
NOTION_TOKEN_URL=$fakes/oauth/notion/token
VARS
