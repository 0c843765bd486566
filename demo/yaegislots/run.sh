#!/usr/bin/env bash
# Frame slots per request under Yaegi: the exact measure behind issue 10's rounds (docs/yaegi.md,
# "Counting frame slots"). It copies Yaegi v0.16.1 from the module cache into a temporary
# directory, adds instr.go.in and three calls that count each interpreted call's frame, and runs
# the harness's slots test (build tag yaegislots) against that copy, with the plugin at the root of
# this checkout (or GATEHOUSE_ROOT).
#
#   demo/yaegislots/run.sh                        every scenario, functions by slots per request
#   demo/yaegislots/run.sh cold-ES256             one scenario (a substring of its name)
#   demo/yaegislots/run.sh cold-ES256 tokens.verifyToken,policy.Decide
#                                                 and the slots of these functions, with their owners
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
demo=$(dirname "$here")
go -C "$demo" mod download github.com/traefik/yaegi
src=$(go -C "$demo" list -m -f '{{.Dir}}' github.com/traefik/yaegi)
tmp=$(mktemp -d /tmp/gatehouse-yaegislots-XXXXXX)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
cp -r "$src" "$tmp/yaegi"
chmod -R u+w "$tmp/yaegi"
cp "$here/instr.go.in" "$tmp/yaegi/interp/instr.go"
run="$tmp/yaegi/interp/run.go"
# The three places Yaegi v0.16.1 allocates a function's frame: a call from interpreted code, a
# function value called from compiled code (genFunctionWrapper) and a closure.
perl -0pi -e 's/(\t\tnf := newFrame\(f, len\(def.types\), f.runid\(\)\)\n)/$1\t\trecordFrame(def, def.types)\n/ or die "call site"' "$run"
perl -0pi -e 's/(\t\t\tfr := newFrame\(f, len\(def.types\), f.runid\(\)\)\n)/$1\t\t\trecordFrame(def, def.types)\n/ or die "wrapper site"' "$run"
perl -0pi -e 's/(\t\t\tfr2 := newFrame\(fr, len\(n.types\), fr.runid\(\)\)\n)/$1\t\t\trecordFrame(n, n.types)\n/ or die "closure site"' "$run"
cp "$demo/go.mod" "$demo/go.sum" "$tmp/"
go mod edit -replace "github.com/traefik/yaegi=$tmp/yaegi" -replace "github.com/gatehouse-dev/gatehouse=$(cd "$demo/.." && pwd)" "$tmp/go.mod"
cd "$demo"
GATEHOUSE_SLOTS_CASE="${1:-}" GATEHOUSE_SLOTS_FUNCS="${2:-}" \
  go test -modfile "$tmp/go.mod" -tags yaegislots -count=1 -run '^TestFrameSlots$' -v ./harness |
  grep -v '^=== RUN\|^--- PASS\|^PASS$\|^ok '
