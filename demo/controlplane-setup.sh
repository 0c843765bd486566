#!/bin/sh
# One-shot setup of the demo's control plane: compose.postgres.yaml's controlplane-setup
# service runs it (go -C demo run . -postgres does the same steps in Go: demo/controlplane.go).
# Environment: GATEHOUSE_DATABASE, GATEHOUSE_SERVER, DEMO_ISSUER (the demo issuer's URL),
# GATEWAY_SETTINGS (the gateway settings file to write), GATEHOUSE (a gatehouse binary; default:
# built from server/). Safe to run again (demo/demo_test.go runs it a second time).
set -eu
cd "$(dirname "$0")/.."
gatehouse=${GATEHOUSE:-}
if [ -z "$gatehouse" ]; then
  gatehouse=/tmp/gatehouse
  go -C server build -o "$gatehouse" ./cmd/gatehouse
fi
token() { curl -fsS -X POST "$DEMO_ISSUER/token?sub=$1&ttl=$2" | sed 's/.*"access_token":"\([^"]*\)".*/\1/'; }

# The first platform admin, straight in the database (the API has no unauthenticated write path).
$gatehouse bootstrap --subject alice --issuer http://issuer:9000 --admin-org acme
# Wait for the control plane and for the issuer (under compose both may still be starting).
until curl -fsS "$GATEHOUSE_SERVER/readyz" >/dev/null 2>&1; do sleep 1; done
until curl -fsS "$DEMO_ISSUER/jwks" >/dev/null 2>&1; do sleep 1; done

# From here on alice works through the admin API, with the CLI.
GATEHOUSE_TOKEN=$(token alice 1h)
export GATEHOUSE_TOKEN
$gatehouse import demo/policy.yaml
if ! $gatehouse assignments list --org acme --subject svc-gateway --role gatehouse-gateway | grep -q svc-gateway; then
  $gatehouse assignments add --org acme --subject svc-gateway --issuer http://issuer:9000 --role gatehouse-gateway
fi

# The gateway's settings: the committed ones plus its credential (a token of svc-gateway).
credential=$(token svc-gateway 720h)
{ cat demo/gatehouse-controlplane.yaml; printf 'policyCredential: %s\n' "$credential"; } > "$GATEWAY_SETTINGS.tmp"
mv "$GATEWAY_SETTINGS.tmp" "$GATEWAY_SETTINGS"
echo "controlplane-setup: alice is platform admin, demo/policy.yaml imported, $GATEWAY_SETTINGS written"
