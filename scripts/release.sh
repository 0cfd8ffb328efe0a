#!/usr/bin/env bash
# release.sh VERSION OUTDIR [GOOS/GOARCH...]: builds Herald's release archives into OUTDIR.
#
# For each target (by default linux, darwin and windows, each on amd64 and arm64) it builds herald with
# scripts/build.sh, VERSION stamped in, and packs it with README.md: herald_VERSION_GOOS_GOARCH.tar.gz, or
# .zip for Windows. SHA256SUMS lists the archives. The archives are reproducible: files in name order, owned by
# 0:0, dated SOURCE_DATE_EPOCH (by default the commit's time), gzip without a name or time, so the same
# commit and Go version give the same SHA256SUMS on any machine. Needs GNU tar, gzip, zip, sha256sum.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: release.sh VERSION OUTDIR [GOOS/GOARCH...]" >&2
  exit 2
fi
version=$1 outdir=$2
shift 2
targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  targets=(linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64)
fi
if [[ ! $version =~ ^v[0-9] ]]; then
  echo "release.sh: version $version: want a tag such as v1.2.3" >&2
  exit 2
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || true)}
if [[ ! $epoch =~ ^[0-9]+$ ]]; then
  echo "release.sh: no date for the archives' files: set SOURCE_DATE_EPOCH, or run it in a git checkout" >&2
  exit 1
fi
# A setting in the environment that changes the code built (GOAMD64=v3, GOFLAGS=-race) is not the release's.
unset GOFLAGS GOAMD64 GOARM64 GOEXPERIMENT
echo "release $version with $(go version), files dated $(date -u -d "@$epoch" +%FT%TZ)"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
archives=()
for target in "${targets[@]}"; do
  goos=${target%/*} goarch=${target#*/}
  name=herald_${version}_${goos}_${goarch}
  exe=herald
  if [[ $goos == windows ]]; then exe=herald.exe; fi
  mkdir -p "$stage/$name"
  start=$SECONDS
  "$root/scripts/build.sh" "$stage/$name/$exe" "$goos" "$goarch" "$version"
  cp "$root/README.md" "$stage/$name/"
  chmod 0755 "$stage/$name/$exe"
  chmod 0644 "$stage/$name/README.md"
  touch -h -d "@$epoch" "$stage/$name" "$stage/$name"/*
  if [[ $goos == windows ]]; then
    archive=$name.zip
    rm -f "$outdir/$archive"
    # -X: no uid/gid or extra times; the times zip keeps are local, so the zone is fixed.
    (cd "$stage" && find "$name" | LC_ALL=C sort | TZ=UTC zip -q -X -D -@ "$outdir/$archive")
  else
    archive=$name.tar.gz
    tar -C "$stage" --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
      --format=gnu -cf - "$name" | gzip -n -9 >"$outdir/$archive"
  fi
  archives+=("$archive")
  echo "$archive ($((SECONDS - start)) s)"
done

(cd "$outdir" && sha256sum "${archives[@]}" | LC_ALL=C sort -k2 >SHA256SUMS)
cat "$outdir/SHA256SUMS"
