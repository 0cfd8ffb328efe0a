#!/usr/bin/env bash
# build.sh OUT [GOOS] [GOARCH] [VERSION]: builds the herald binary into OUT.
#
# The one build command of every recipe: the GitHub Action, the Dockerfile's build stage, the release script
# and .ci/recipes.sh all call it, so that what CI tests is what ships. The binary is static (CGO_ENABLED=0:
# the SQLite driver is pure Go) and has no local paths in it (-trimpath). VERSION, when given, is stamped in:
# herald version prints it, and the feeds name it as their generator. Such a build is reproducible: with
# -buildvcs=false the checkout's state (a modified file, the commit's time) stays out of it, so the same
# source and Go version give the same bytes. Without VERSION the binary says "dev", with the commit it was
# built from when the source is a git checkout. An empty GOOS or GOARCH is the host's.
set -euo pipefail

if [[ $# -lt 1 || $# -gt 4 || -z $1 ]]; then
  echo "usage: build.sh OUT [GOOS] [GOARCH] [VERSION]" >&2
  exit 2
fi
out=$1 goos=${2:-} goarch=${3:-} version=${4:-}

# The version goes into -ldflags, which the linker splits at spaces and quotes: allow what a tag or a Go
# pseudo-version holds, and nothing else.
if [[ -n $version && ! $version =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]*$ ]]; then
  echo "build.sh: version $version: want letters, digits and . + _ - (a tag such as v1.2.3)" >&2
  exit 2
fi

# OUT is taken from the caller's folder; the build runs in the module's.
case $out in
/*) ;;
*) out=$PWD/$out ;;
esac
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ldflags="-s -w" vcs=auto
if [[ -n $version ]]; then
  ldflags+=" -X main.version=$version" vcs=false
fi
export CGO_ENABLED=0
if [[ -n $goos ]]; then export GOOS=$goos; fi
if [[ -n $goarch ]]; then export GOARCH=$goarch; fi

go build -trimpath -buildvcs="$vcs" -ldflags="$ldflags" -o "$out" ./cmd/herald
