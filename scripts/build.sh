#!/usr/bin/env bash
# build.sh OUT [GOOS] [GOARCH] [VERSION]: builds the herald binary into OUT.
#
# The one build command of every recipe: the GitHub Action, the Dockerfile's build stage, the release script
# and .ci/recipes.sh all call it, so that what CI tests is what ships. The binary is static (CGO_ENABLED=0:
# the SQLite driver is pure Go) and reproducible: -trimpath leaves no local paths in it, and -buildvcs=false
# keeps the checkout's state (a modified file, the commit's time) out of it, so the same source and Go
# version give the same bytes. VERSION, when given, is stamped in: herald version prints it, and the feeds
# name it as their generator. Without VERSION the binary says "dev". (With VCS stamping, Go 1.24 and later
# would give a build in a git checkout a pseudo-version, v0.0.0-DATE-COMMIT, which herald would print and
# write into the feeds as a release's.) An empty GOOS or GOARCH is the host's.
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

ldflags="-s -w"
if [[ -n $version ]]; then
  ldflags+=" -X main.version=$version"
fi
export CGO_ENABLED=0
if [[ -n $goos ]]; then export GOOS=$goos; fi
if [[ -n $goarch ]]; then export GOARCH=$goarch; fi

go build -trimpath -buildvcs=false -ldflags="$ldflags" -o "$out" ./cmd/herald
