#!/usr/bin/env bash
# The action's install step: builds herald from the action's own source (GITHUB_ACTION_PATH, the ref the
# workflow pinned) with scripts/build.sh, the build of every recipe, into RUNNER_TEMP, puts it on the job's
# PATH and sets the outputs version and path.
#
# The version stamped in is the input version, else the ref the workflow pinned when it is a v-tag. The ref
# is the last folder of GITHUB_ACTION_PATH, where the runner unpacks owner/repo@ref as _actions/owner/repo/ref;
# not github.action_ref, which runners do not promise to fill in for a composite action's steps (and which,
# after the setup-go step, might name that action's ref). Any other ref (a branch, a commit, a local ./
# action) builds an unstamped binary, which says "dev".
set -euo pipefail

: "${GITHUB_ACTION_PATH:?not set: run this as a step of action.yml}"
: "${RUNNER_TEMP:?not set}" "${GITHUB_PATH:?not set}" "${GITHUB_OUTPUT:?not set}"

ref=""
if [[ $GITHUB_ACTION_PATH == */_actions/*/*/* ]]; then
  ref=${GITHUB_ACTION_PATH##*/}
fi
version=${HERALD_ACTION_VERSION:-}
if [[ -z $version && $ref =~ ^v[0-9]+(\.[0-9]+)*([-+][0-9A-Za-z.+-]*)?$ ]]; then
  version=$ref
fi

bin=$RUNNER_TEMP/herald-bin
mkdir -p "$bin"
echo "Building herald ${version:-(dev)} from ${ref:-$GITHUB_ACTION_PATH} with $(go version)"
bash "$GITHUB_ACTION_PATH/scripts/build.sh" "$bin/herald" "" "" "$version"

printed=$("$bin/herald" version)
echo "$printed"
echo "$bin" >>"$GITHUB_PATH"
{
  echo "version=${printed#herald }"
  echo "path=$bin/herald"
} >>"$GITHUB_OUTPUT"
