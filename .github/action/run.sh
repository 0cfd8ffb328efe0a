#!/usr/bin/env bash
# The action's run step: runs herald COMMAND ARGS in the site's folder, with the inputs' settings in the
# environment. A HERALD_* variable is exported only when its input is set, so that one the workflow set with
# env: stays as it is. Secret values are masked in the log (the runner masks a secrets.* value, but not one
# that came from elsewhere, nor a password inside a URL), and herald's own output cannot issue workflow
# commands: a post's title that reads like one is printed, not obeyed.
set -euo pipefail

: "${HERALD_ACTION_COMMAND:=publish}"
site=${HERALD_ACTION_SITE:-.}

# mask hides a value in the job's log. The runner masks each line of a value it was given on its own.
mask() {
  local line
  if [[ ${GITHUB_ACTIONS:-} != true ]]; then return; fi # outside a runner, printing it would show it
  while IFS= read -r line; do
    if [[ -n $line ]]; then echo "::add-mask::$line"; fi
  done <<<"$1"
}

# urlPassword prints the password of a URL such as postgres://user:password@host/db, if it has one.
urlPassword() {
  local rest=${1#*://}
  rest=${rest%%[/?#]*} # the authority
  if [[ $1 == *://* && $rest == *@* ]]; then
    local userinfo=${rest%@*}
    if [[ $userinfo == *:* ]]; then echo "${userinfo#*:}"; fi
  fi
}

# setting NAME VALUE: exports NAME=VALUE when VALUE is set.
setting() {
  if [[ -n $2 ]]; then export "$1=$2"; fi
}

setting HERALD_STORE "${HERALD_ACTION_STORE:-}"
setting PGPASSWORD "${HERALD_ACTION_STORE_PASSWORD:-}"
setting HERALD_SECRET "${HERALD_ACTION_SECRET:-}"
setting HERALD_SMTP "${HERALD_ACTION_SMTP:-}"
setting HERALD_SMTP_PASSWORD "${HERALD_ACTION_SMTP_PASSWORD:-}"
setting HERALD_BASE_URL "${HERALD_ACTION_BASE_URL:-}"

# Whether they came from the inputs or from env: in the workflow, the secrets are masked, and so is a
# password inside the store's or the SMTP server's URL.
for name in PGPASSWORD HERALD_SECRET HERALD_SMTP_PASSWORD; do
  if [[ -n ${!name:-} ]]; then mask "${!name}"; fi
done
for name in HERALD_STORE HERALD_SMTP; do
  if [[ -n ${!name:-} ]]; then mask "$(urlPassword "${!name}")"; fi
done

# The arguments are split at white space (newlines too), never expanded: no globbing, no $(...).
read -r -d '' -a args <<<"${HERALD_ACTION_ARGS:-}" || true
read -r -d '' -a command <<<"$HERALD_ACTION_COMMAND" || true

cd "$site"
token=""
if [[ ${GITHUB_ACTIONS:-} == true ]]; then
  token=herald-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n') # that no post can guess
  echo "::stop-commands::$token"
fi
echo "herald ${command[*]-}${args[*]:+ ${args[*]}}"
status=0
# (${a[@]+"${a[@]}"}: bash 3.2, macOS's, calls an empty array unbound.)
"${HERALD_ACTION_BIN:-herald}" ${command[@]+"${command[@]}"} ${args[@]+"${args[@]}"} || status=$?
if [[ -n $token ]]; then echo "::$token::"; fi
exit "$status"
