#!/usr/bin/env bash
# bench/hostile.sh: build each hostile site of the hardening issue with `herald build` and print how it ended,
# how long it took and its peak memory. A benchmark, not a test: it exits 0 whatever the results (non-zero
# only when something fails to run). The regression tests are in posts/ and cmd/herald (hostile_test.go,
# liquidbounds_test.go, cache_hostile_test.go), with the bounds lowered; this runs the full-size inputs
# against the default bounds.
#
#   bench/hostile.sh [CASE...]     all cases, or those named
#
# Needs go and /usr/bin/time (Debian: apt-get install time).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is missing (Debian: apt-get install time)" >&2; exit 1; }
WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
HERALD="$WORK/herald"
echo "building herald..." >&2
(cd "$ROOT" && go build -trimpath -o "$HERALD" ./cmd/herald)

# site DIR: a small Jekyll site with Herald's secret in DIR.
site() {
  mkdir -p "$1/_posts" "$1/_includes" "$1/.herald"
  printf 'title: Hostile\nurl: https://hostile.example\n' >"$1/_config.yml"
  printf -- '---\ntitle: Fine\n---\nA fine post.\n' >"$1/_posts/2020-01-01-fine.md"
  echo 0123456789abcdef0123456789abcdef >"$1/.herald/secret"
}
post() { printf -- '---\ntitle: Hostile\n---\n%s\n' "$2" >"$1/_posts/2020-01-02-hostile.md"; }

case_symlink_post() { site "$1"; ln -s /etc/passwd "$1/_posts/2020-01-02-passwd.md"; }
case_symlink_include_secret() { site "$1"; ln -s ../.herald/secret "$1/_includes/footer.html"; post "$1" '{% include footer.html %}'; }
case_fifo_post() { site "$1"; mkfifo "$1/_posts/2020-01-02-fifo.md"; }
case_link_dev_zero() { site "$1"; ln -s /dev/zero "$1/_posts/2020-01-02-zero.md"; }
case_liquid_append_doubling() { site "$1"; post "$1" "{% assign s = 'ab' %}$(for _ in $(seq 40); do printf '{%% assign s = s | append: s %%}'; done){{ s | size }}"; }
case_liquid_capture_doubling() { site "$1"; post "$1" "{% assign s = 'ab' %}$(for _ in $(seq 40); do printf '{%% capture s %%}{{ s }}{{ s }}{%% endcapture %%}'; done){{ s | size }}"; }
case_liquid_include_fanout() {
  site "$1"
  for i in $(seq 0 16); do
    for _ in 1 2 3 4; do printf '{%% include f%d.html %%}' $((i + 1)); done >"$1/_includes/f$i.html"
  done
  echo x >"$1/_includes/f17.html"
  post "$1" '{% include f0.html %}'
}
case_liquid_loop_2e9() { site "$1"; post "$1" '{% for i in (1..2000000000) %}{% endfor %}done'; }
case_liquid_nested_loops() { site "$1"; post "$1" '{% for i in (1..100000) %}{% for j in (1..100000) %}{% endfor %}{% endfor %}done'; }
case_front_matter_80k_keys() { site "$1"; { echo ---; for i in $(seq 80000); do echo "k$i: v"; done; echo ---; echo body; } >"$1/_posts/2020-01-02-keys.md"; }
case_front_matter_50MB() { site "$1"; { echo ---; echo "title: Big"; printf 'data: "'; head -c 50000000 /dev/zero | tr '\0' a; echo '"'; echo ---; echo body; } >"$1/_posts/2020-01-02-big.md"; }
case_post_80MB() { site "$1"; { printf -- '---\ntitle: Huge\n---\n'; head -c 80000000 /dev/zero | tr '\0' 'a'; } >"$1/_posts/2020-01-02-huge.md"; }
case_hugo_toml_300k_tables() {
  mkdir -p "$1/content/posts" "$1/.herald"
  printf 'title = "Hostile"\nbaseURL = "https://hostile.example/"\n' >"$1/hugo.toml"
  { echo +++; echo 'title = "Tables"'; echo 'date = 2020-01-02'; for i in $(seq 300000); do printf '[t%d]\nk = 1\n' "$i"; done; echo +++; echo body; } >"$1/content/posts/tables.md"
}

CASES=(symlink_post symlink_include_secret fifo_post link_dev_zero liquid_append_doubling liquid_capture_doubling
  liquid_include_fanout liquid_loop_2e9 liquid_nested_loops front_matter_80k_keys front_matter_50MB post_80MB
  hugo_toml_300k_tables)
(($#)) && CASES=("$@")

printf '%-26s %-5s %9s %9s  %s\n' case exit seconds peak_MB "what herald said"
for c in "${CASES[@]}"; do
  dir="$WORK/$c"; mkdir -p "$dir"
  "case_$c" "$dir"
  set +e
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$HERALD" build -C "$dir" >/dev/null 2>"$WORK/err"
  code=$?
  set -e
  read -r secs kb < <(tail -1 "$WORK/time") || true
  said=$(grep -v '^Command exited' "$WORK/err" | tail -1 | cut -c1-150)
  printf '%-26s %-5s %9s %9d  %s\n' "$c" "$code" "$secs" $((kb / 1024)) "$said"
  rm -rf "$dir"
done
