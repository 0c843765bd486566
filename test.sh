#!/usr/bin/env bash
# The tests, as README.md gives them: both modules, compiled and through the Yaegi harness.
#   ./test.sh          vet, race-enabled unit tests, the Yaegi harness, the walkthrough, fuzz smoke
#   FUZZTIME=0 ./test.sh   skip the fuzz smoke
set -euo pipefail
cd "$(dirname "$0")"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null | grep -v '^vendor/' || find . -name '*.go' -not -path './vendor/*'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi

echo "== plugin module: vet and race-enabled tests (compiled)"
go vet ./...
go test -race -count=1 ./...

echo "== demo module: Yaegi harness (every scenario compiled and interpreted), JWKS oracle, compose check, walkthrough"
go -C demo vet ./...
go -C demo test -race -count=1 ./...
echo "== demo module: concurrency, registry release and the warm-path budget through Yaegi (without -race: the interpreter's own frames race, and timings need it off)"
go -C demo test -count=1 -run 'TestConcurrentRequestsGetTheSequentialAnswers|TestCancelledMiddlewaresGiveSharedSourcesBack|TestTheWarmPathStaysWithinItsBudget' -v ./harness | grep -E '^(---|ok|FAIL|PASS)|guard_test'

echo "== server module: gatehouse forward-auth (the plugin's engine behind real nginx and Caddy)"
go -C server vet ./...     # two lines, not "&&": under set -e a failure left of && would not stop the script
go -C server test -race -count=1 ./...

fuzztime=${FUZZTIME:-10s}
if [ "$fuzztime" != "0" ]; then
  echo "== fuzz smoke ($fuzztime each)"
  go test ./tokens -run '^$' -fuzz '^FuzzVerifyAgreesWithGolangJWT$' -fuzztime "$fuzztime"
  go test ./tokens -run '^$' -fuzz '^FuzzExtractAndVerify$' -fuzztime "$fuzztime"
  go test ./matcher -run '^$' -fuzz '^FuzzMatchAgreesWithBruteForce$' -fuzztime "$fuzztime"
  go test ./matcher -run '^$' -fuzz '^FuzzSplit$' -fuzztime "$fuzztime"
  go test . -run '^$' -fuzz '^FuzzIdentityHeadersNeverReachTheBackend$' -fuzztime "$fuzztime"
fi
echo "== all tests passed"
