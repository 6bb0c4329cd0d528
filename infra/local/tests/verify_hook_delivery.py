"""A real hook delivery, checked with the reference verifier (PyPI `standardwebhooks`).

Against a running dev server (with the fake providers) it subscribes a premium user's hook to
`item.created` at a fake receiver, connects the fake Trello and syncs; the hooks worker signs
and sends each new card. The verifier must accept every delivery the receiver got, with the
secret shown at subscribe, and refuse one whose body was changed.

    verify_hook_delivery.py DEV_URL FAKES_URL      (infra/local/scripts/hooks-verify.sh runs it)
"""

import json
import sys
import time
import urllib.request
import uuid

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def call(method, url, body=None, token=None):
    request = urllib.request.Request(url, method=method)
    if body is not None:
        request.data = json.dumps(body).encode()
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        raw = response.read()
        return response.status, json.loads(raw) if raw else None


def main(dev, fakes):
    api = f"{dev}/api/v1/integrations"
    user = f"hooks-{uuid.uuid4().hex[:8]}"
    _, issued = call("POST", f"{dev}/dev/token", {"userId": user, "plan": "premium"})
    token = issued["token"]
    receiver = f"{fakes}/receivers/{user}"
    status, hook = call("POST", f"{api}/hooks", {"targetUrl": receiver, "events": ["item.created"]}, token)
    assert status == 201, hook
    secret = hook["signingSecret"]
    assert secret.startswith("whsec_"), "the secret is shown at subscribe"

    creds = {"apiKey": "fake-trello-key", "token": "fake-trello-token"}
    status, conn = call("POST", f"{api}/connect", {"integrationId": "trello", "credentials": creds}, token)
    assert status == 201, conn
    status, _ = call("POST", f"{api}/{conn['connectionId']}/sync", {}, token)
    assert status == 202

    received = []
    deadline = time.time() + 90
    while time.time() < deadline:
        _, got = call("GET", receiver)
        received = got["received"]
        if received:
            break
        time.sleep(1)
    assert received, "no delivery reached the receiver in 90 s"

    verifier = Webhook(secret)
    for delivery in received:
        headers = {
            "webhook-id": delivery["webhookId"],
            "webhook-timestamp": delivery["webhookTimestamp"],
            "webhook-signature": delivery["webhookSignature"],
        }
        payload = verifier.verify(delivery["body"], headers)
        assert payload["type"] == "item.created", payload
        assert payload["data"]["integrationId"] == "trello", payload
    tampered = received[0]["body"].replace("item.created", "item.updated")
    try:
        verifier.verify(tampered, headers | {"webhook-id": received[0]["webhookId"]})
    except WebhookVerificationError:
        pass
    else:
        raise AssertionError("a changed body was accepted")
    print(f"standardwebhooks verified {len(received)} item.created deliveries (and refused a changed body)")


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/"))
