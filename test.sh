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
echo "== demo module: concurrency, registry release, the warm-path budget and the replay of every caching configuration through Yaegi (without -race: the interpreter's own frames race, and timings need it off)"
go -C demo test -count=1 -run 'TestConcurrentRequestsGetTheSequentialAnswers|TestCancelledMiddlewaresGiveSharedSourcesBack|TestTheWarmPathStaysWithinItsBudget|TestEveryCachingConfigurationReplaysUnderYaegi' -v ./harness | grep -E '^(---|ok|FAIL|PASS)|guard_test'

echo "== server module: forward-auth behind real nginx, Caddy and HAProxy; the control plane (store, admin API, CLI, audit, review) on a real PostgreSQL; the web UI in real Chromium"
go -C server vet ./...     # two lines, not "&&": under set -e a failure left of && would not stop the script
go -C server test -race -count=1 ./...

fuzztime=${FUZZTIME:-10s}
# fuzz PKG TARGET: one time-boxed run. Go's fuzzer can end a run on a loaded machine with "context
# deadline exceeded" while stopping its workers, with no failing input; such a run is tried once more.
# A real failure saves its input under testdata/fuzz, which the second run replays first and fails on.
fuzz() {
  go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" > /tmp/gatehouse-fuzz.$$ 2>&1 && { tail -1 /tmp/gatehouse-fuzz.$$; return 0; }
  cat /tmp/gatehouse-fuzz.$$
  if grep -q 'context deadline exceeded' /tmp/gatehouse-fuzz.$$ && ! grep -q 'Failing input written' /tmp/gatehouse-fuzz.$$; then
    echo "   (the fuzzer stopped on its own deadline, not on an input: running $2 once more)"
    go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime"
    return
  fi
  return 1
}
if [ "$fuzztime" != "0" ]; then
  echo "== fuzz smoke ($fuzztime each)"
  fuzz ./tokens FuzzVerifyAgreesWithGolangJWT
  fuzz ./tokens FuzzExtractAndVerify
  fuzz ./matcher FuzzMatchAgreesWithBruteForce
  fuzz ./matcher FuzzSplit
  fuzz . FuzzIdentityHeadersNeverReachTheBackend
fi
echo "== all tests passed"
