#!/usr/bin/env bash
# The publishing recipes, as far as they run without GitHub or a container engine (docs/ci.md):
#
# 1. the GitHub Action (action.yml): its steps run as a runner runs them (.ci/recipes_action.py), from a
#    fake _actions/heraldhq/herald/v9.8.7 folder, against a copy of example/ with an SQLite store outside the
#    site: the stamped version is printed, subscribers import, publish --init --backfill 1 writes the feeds
#    and mails both subscribers into the outbox, a second publish finds nothing new, a new store under
#    CI=true is refused, and no secret shows in the log;
# 2. the Dockerfile's build stage: its RUN of scripts/build.sh, for linux/amd64, makes a static binary that
#    prints its version, with the Go version of go.mod;
# 3. the release recipe: scripts/release.sh for linux/amd64 and a cross-compiled windows/arm64 (all six
#    with RECIPES_TARGETS=all), SHA256SUMS checked, the binary in its archive run, and a second run giving
#    the same bytes.
#
# Under CI=true a missing tool is a failure; elsewhere it skips what needs it, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

fail() {
  echo "recipes: FAIL: $*" >&2
  exit 1
}
# need CMD PACKAGE: installs Debian's PACKAGE when CMD is missing and this is root, as .ci/run does.
need() {
  if eval "$1" >/dev/null 2>&1; then return; fi
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
    return
  fi
  if [[ ${CI:-} == true ]]; then fail "missing $2 ($1)"; fi
  echo "recipes: SKIP: missing $2 ($1); install it to run these tests" >&2
  exit 0
}
need "/usr/bin/python3 -c 'import yaml'" python3-yaml
need "command -v file" file
need "command -v zip" zip
need "command -v unzip" unzip

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TMPDIR=$tmp
# The settings of whoever runs this are not the test's.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep -E '^(HERALD_|PG)' || true)

# 1. The action. -----------------------------------------------------------------------------------------
echo "== the GitHub Action"
ws=$tmp/workspace
action=$tmp/runner/_actions/heraldhq/herald/v9.8.7 # where a runner unpacks heraldhq/herald@v9.8.7
mkdir -p "$ws" "$(dirname "$action")" "$tmp/state"
ln -s "$root" "$action"
cp -R example "$ws/blog"
rm -rf "$ws/blog/_site" "$ws/blog/.herald"
secret=test-secret-0123456789abcdef smtppw=test-smtp-password storepw=test-store-password

# act NAME EXPECTED_STATUS ARGS...: runs the action; its log is $tmp/NAME.log, its outputs $tmp/NAME.json.
act() {
  local name=$1 want=$2 status=0
  shift 2
  /usr/bin/python3 .ci/recipes_action.py --action-path "$action" --log "$tmp/$name.log" \
    --outputs "$tmp/$name.json" "$root" "$ws" "$@" >/dev/null 2>"$tmp/$name.err" || status=$?
  if [[ $status != "$want" ]]; then
    cat "$tmp/$name.log" "$tmp/$name.err" >&2
    fail "action run $name: exit status $status, want $want"
  fi
}
jsonget() { /usr/bin/python3 -c 'import json,sys; print(eval("json.load(open(sys.argv[1]))" + sys.argv[2]))' "$@"; }
# With no SMTP server, mail goes to the outbox, which is beside an SQLite store.
outbox() { find "$tmp/state/outbox/new" -type f 2>/dev/null | wc -l; }

# The store comes in as the input store, then as env: on the step (which an unused input must not empty).
act import 0 site=blog command=subscribers "args=import subscribers.csv" store="$tmp/state/herald.db"
grep -qx 'herald v9.8.7' "$tmp/import.log" || fail "the install step did not print herald v9.8.7"
[[ $(jsonget "$tmp/import.json" '["outputs"]["version"]') == v9.8.7 ]] || fail "output version is not v9.8.7"
bin=$(jsonget "$tmp/import.json" '["outputs"]["path"]')
[[ $(jsonget "$tmp/import.json" '["path"][0]') == "$(dirname "$bin")" ]] || fail "herald's folder is not on GITHUB_PATH"
grep -q '2 added' "$tmp/import.log" || fail "subscribers import did not add 2"
[[ -f $tmp/state/herald.db && ! -e $ws/blog/.herald/state.db ]] || fail "the store is not where the input store put it"

act publish 0 site=blog "args=--init  --backfill 1" secret="$secret" smtp-password="$smtppw" \
  store-password="$storepw" --env HERALD_STORE="$tmp/state/herald.db" \
  --must-mask "$secret" --must-mask "$smtppw" --must-mask "$storepw"
for f in feed.xml atom.xml feed.json; do
  [[ -s $ws/blog/_site/$f ]] || fail "publish wrote no _site/$f"
done
[[ $(outbox) == 2 ]] || fail "the outbox holds $(outbox) messages, want 2 (one new post, two subscribers)"
grep -q 'sent 2' "$tmp/publish.log" || fail "publish did not report 2 sent"

act again 0 site=blog --env HERALD_STORE="$tmp/state/herald.db"
grep -qx 'new: 0' "$tmp/again.log" || { cat "$tmp/again.log"; fail "a second publish found something new"; }
[[ $(outbox) == 2 ]] || fail "a second publish mailed again: the outbox holds $(outbox)"

act digest 0 site=blog command=send store="$tmp/state/herald.db"

# CI machines keep nothing: a store with no history, for a site published before, is refused.
act lost 1 site=blog store="$tmp/state/lost.db"
grep -q -- '--init' "$tmp/lost.log" || fail "a lost store was not refused with a word of --init"

# A password inside the store's URL is masked, whatever herald says of a store it cannot open.
act pgurl 1 site=blog store="postgres://herald:test-url-password@127.0.0.1:1/herald?sslmode=disable" \
  --must-mask test-url-password

# A ref that is not a v-tag builds a dev binary.
ln -s "$root" "$tmp/runner/_actions/heraldhq/herald/main"
act branch 0 command=version --action-path "$tmp/runner/_actions/heraldhq/herald/main"
grep -qx 'herald dev' "$tmp/branch.log" || fail "a branch's build did not say herald dev"
# A commit pinned with the input version says that version.
commit=0123456789abcdef0123456789abcdef01234567
ln -s "$root" "$tmp/runner/_actions/heraldhq/herald/$commit"
act pinned 0 command=version version=v9.9.9-rc.1 --action-path "$tmp/runner/_actions/heraldhq/herald/$commit"
grep -qx 'herald v9.9.9-rc.1' "$tmp/pinned.log" || fail "the input version was not stamped"
echo "ok: action (version, import, publish to the outbox, nothing new, send, lost store refused, masking)"

# The example workflows parse, and give the action only inputs it has.
/usr/bin/python3 - docs/workflows/*.yml <<'PY' || fail "docs/workflows"
import sys, yaml
inputs = set(yaml.safe_load(open("action.yml"))["inputs"])
for path in sys.argv[1:]:
    wf = yaml.safe_load(open(path))
    uses = [s for job in wf["jobs"].values() for s in job.get("steps", []) if s.get("uses", "").startswith("heraldhq/herald@")]
    if not uses:
        sys.exit(f"{path}: no step uses heraldhq/herald")
    for s in uses:
        if set(s.get("with", {})) - inputs:
            sys.exit(f"{path}: inputs the action does not have: {sorted(set(s['with']) - inputs)}")
PY
echo "ok: docs/workflows"

# 2. The Dockerfile's build stage. ---------------------------------------------------------------------------
echo "== the container's binary stage"
gomod_go=$(awk '$1 == "go" { print $2; exit }' go.mod)
grep -qx "ARG GO_VERSION=$gomod_go" Dockerfile || fail "the Dockerfile's GO_VERSION is not go.mod's go $gomod_go"
mapfile -t runs < <(grep -E '^RUN scripts/build\.sh ' Dockerfile)
[[ ${#runs[@]} == 1 ]] || fail "want one RUN scripts/build.sh in the Dockerfile, got ${#runs[@]}"
for f in .github/action/install.sh scripts/release.sh; do
  grep -q 'scripts/build.sh"* "' "$f" || fail "$f does not build with scripts/build.sh"
done
cmd=${runs[0]#RUN }
cmd=${cmd//\/out\//$tmp/image/} # the stage's /out, here
start=$SECONDS
TARGETOS=linux TARGETARCH=amd64 VERSION=v0.0.0-image bash -euc "$cmd"
img=$tmp/image/herald
file "$img" | grep -q 'ELF 64-bit.*x86-64.*statically linked' || fail "not a static linux/amd64 binary: $(file "$img")"
go version -m "$img" | grep -q 'CGO_ENABLED=0' || fail "the binary was built with cgo"
go version -m "$img" | grep -q -- '-trimpath=true' || fail "the binary was built without -trimpath"
[[ $("$img" version) == "herald v0.0.0-image" ]] || fail "the image's binary says $("$img" version)"
echo "ok: binary stage, static, $(du -k "$img" | cut -f1) KiB, $((SECONDS - start)) s"

# 3. The release recipe. -----------------------------------------------------------------------------------
echo "== the release recipe"
targets=(linux/amd64 windows/arm64)
if [[ ${RECIPES_TARGETS:-} == all ]]; then targets=(); fi
start=$SECONDS
scripts/release.sh v0.0.0-ci "$tmp/dist" "${targets[@]}"
echo "release built in $((SECONDS - start)) s"
(cd "$tmp/dist" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not check"
n=$(wc -l <"$tmp/dist/SHA256SUMS")
[[ $n == "${#targets[@]}" || ${#targets[@]} == 0 ]] || fail "SHA256SUMS lists $n archives, want ${#targets[@]}"
mkdir "$tmp/unpack"
tar -C "$tmp/unpack" -xzf "$tmp/dist/herald_v0.0.0-ci_linux_amd64.tar.gz"
[[ $("$tmp/unpack/herald_v0.0.0-ci_linux_amd64/herald" version) == "herald v0.0.0-ci" ]] ||
  fail "the released linux/amd64 binary does not say herald v0.0.0-ci"
unzip -q -d "$tmp/unpack" "$tmp/dist/herald_v0.0.0-ci_windows_arm64.zip"
file "$tmp/unpack/herald_v0.0.0-ci_windows_arm64/herald.exe" | grep -q 'PE32+.*Aarch64' ||
  fail "not a windows/arm64 binary: $(file "$tmp/unpack/herald_v0.0.0-ci_windows_arm64/herald.exe")"
# (-trimpath keeps -ldflags out of the build info: look for the version itself.)
grep -qa 'v0\.0\.0-ci' "$tmp/unpack/herald_v0.0.0-ci_windows_arm64/herald.exe" ||
  fail "the windows/arm64 binary has no version stamped"
# Reproducible: the same commit builds the same archive again (its packages come from Go's cache; the
# link and the archive are made anew).
scripts/release.sh v0.0.0-ci "$tmp/dist2" linux/amd64 windows/arm64 >/dev/null
cmp "$tmp/dist/SHA256SUMS" "$tmp/dist2/SHA256SUMS" || fail "a second release build gave other bytes"
echo "ok: release (SHA256SUMS checks, version printed, cross-compiled windows/arm64, reproducible)"
