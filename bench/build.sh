#!/usr/bin/env bash
# bench/build.sh: benchmark `herald build`, `herald diff` and a no-op `herald publish` on synthetic sites of 1,000 and 10,000 posts (a benchmark, not a test:
# it exits 0 whether or not the targets are met, and non-zero only when something fails to run).
#
#   bench/build.sh [-o FILE.tsv] [-n "1000 10000"] [-r RUNS]
#
#   -o FILE   also write the results as TSV to FILE
#   -n SIZES  post counts to measure (default "1000 10000")
#   -r RUNS   timed runs per measurement, after one warm-up (default 5); the median is reported
#   HERALD_BENCH_DIR  where the generated sites are cached and reused (default ${TMPDIR:-/tmp}/herald-bench)
#
# Needs go and /usr/bin/time (Debian: apt-get install time); uses hyperfine when present (apt-get install hyperfine),
# else a bash loop. Every timed herald run writes into a freshly removed output folder, so each one really writes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GEN="$ROOT/bench/gen-corpus"
CACHE="${HERALD_BENCH_DIR:-${TMPDIR:-/tmp}/herald-bench}"
SIZES="1000 10000" RUNS=5 TSV=""
while getopts "o:n:r:h" opt; do
  case $opt in
    o) TSV=$OPTARG ;; n) SIZES=$OPTARG ;; r) RUNS=$OPTARG ;;
    h) sed -n "2,12p" "$0"; exit 0 ;; *) sed -n "2,12p" "$0" >&2; exit 2 ;;
  esac
done
die() { echo "bench: $*" >&2; exit 1; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (Debian: apt-get install time)"
[[ -x $GEN ]] || die "$GEN not found"

WORK="$(mktemp -d)"; trap 'rm -rf "$WORK"' EXIT
HERALD="$WORK/herald" OUT="$WORK/out"
# The sites have no .herald/, so herald keeps their posts cache in XDG_CACHE_HOME: one of this run's own, which
# the warm-up run fills (the timed runs read only what changed: nothing), and which goes with the run.
export XDG_CACHE_HOME="$WORK/cache"
qHERALD=$(printf %q "$HERALD") qOUT=$(printf %q "$OUT")
echo "building herald..." >&2
(cd "$ROOT" && go build -trimpath -o "$HERALD" ./cmd/herald)

# corpus N: prints the folder holding N/jekyll and N/hugo, generating it on first use. The cache key includes a
# hash of the generator, so a changed gen-corpus never serves stale sites; a half-written folder is never reused.
corpus() {
  local n=$1 key dir count
  key=$(cat "$GEN" "$(dirname "$GEN")"/gencorpus/*.go | sha256sum | cut -c1-12)
  dir="$CACHE/$n-$key"
  if [[ ! -d $dir ]]; then
    echo "generating $n posts into $dir..." >&2
    rm -rf "$dir.tmp" && mkdir -p "$CACHE"
    "$GEN" -n "$n" -out "$dir.tmp" >/dev/null
    mv "$dir.tmp" "$dir"
  fi
  for sub in jekyll/_posts hugo/content; do
    count=$(find "$dir/$sub" -type f -name '*.md' | wc -l)
    [[ $count -eq $n ]] || die "$dir/$sub has $count posts, want $n (remove $dir to regenerate)"
  done
  echo "$dir"
}

# median_ms CMD: median wall time in ms of RUNS runs of the shell command CMD after one warm-up, each run preceded
# by `rm -rf $OUT` (outside the timing).
if command -v hyperfine >/dev/null; then
  TIMER=hyperfine
  median_ms() {
    hyperfine --style none --warmup 1 --runs "$RUNS" --prepare "rm -rf $qOUT" --export-csv "$WORK/h.csv" "$1" \
      >/dev/null || return 1
    # columns: command,mean,stddev,median,user,system,min,max (seconds)
    awk -F, 'NR == 2 { printf "%d\n", $(NF-4) * 1000 + 0.5 }' "$WORK/h.csv"
  }
else
  TIMER="bash loop (date +%s%N)"
  median_ms() {
    local i t0 ts=()
    for ((i = 0; i <= RUNS; i++)); do
      rm -rf "$OUT"
      t0=$(date +%s%N)
      eval "$1" >/dev/null 2>&1 || return 1
      if ((i > 0)); then ts+=($(( ($(date +%s%N) - t0) / 1000000 ))); fi
    done
    printf '%s\n' "${ts[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p"
  }
fi

# measure CMD: one more run under /usr/bin/time into a fresh output folder; prints "wall user sys maxrss_kb".
measure() { rm -rf "$OUT"; eval "/usr/bin/time -f '%e %U %S %M' -o $(printf %q "$WORK/t") $1" >/dev/null 2>&1 && cat "$WORK/t"; }

load=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo 0)
awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' && echo "warning: load average $load before starting: expect noisy numbers" >&2
echo "timer: $TIMER, median of $RUNS runs after 1 warm-up; $(nproc) cores; $(go version | cut -d' ' -f3)" >&2
echo "herald at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?') (a -dirty tree includes uncommitted edits)" >&2
HDR="posts	floor_ms	build_ms	build/floor	full_ms	full_cpu%	rss_MB	full_rss_MB	hugo_ms	diff_ms	publish_ms	diff/build"
ROWS=()
for n in $SIZES; do
  site=$(corpus "$n")
  J="$site/jekyll" H="$site/hugo"
  echo "measuring $n posts..." >&2
  build_cmd="$qHERALD build -C $(printf %q "$J") --output $qOUT"
  full_cmd="$build_cmd --limit 0"
  hugo_cmd="$qHERALD build -C $(printf %q "$H") --output $qOUT"
  rm -rf "$OUT"; eval "$build_cmd" >/dev/null || die "herald build failed on $J"
  rm -rf "$OUT"; eval "$full_cmd" >/dev/null || die "herald build --limit 0 failed on $J"
  floor=$(median_ms "find $(printf %q "$J/_posts") -type f -print0 | xargs -0 cat >/dev/null") || die "floor failed"
  build=$(median_ms "$build_cmd") || die "timing $build_cmd failed"
  full=$(median_ms "$full_cmd") || die "timing $full_cmd failed"
  m=$(measure "$build_cmd") || die "/usr/bin/time $build_cmd failed"
  read -r _ _ _ rss <<<"$m"
  m=$(measure "$full_cmd") || die "/usr/bin/time $full_cmd failed"
  read -r fwall fuser fsys frss <<<"$m"
  rm -rf "$OUT"
  if hugo_err=$(eval "$hugo_cmd" 2>&1 >/dev/null); then
    hugo=$(median_ms "$hugo_cmd") || die "timing $hugo_cmd failed"
  else
    echo "  herald build fails on the Hugo tree, skipped: ${hugo_err//$'\n'/ }" >&2
    hugo="n/a"
  fi
  # herald diff and a no-op herald publish against a store holding the site's history (kept outside the
  # cached site, and the published feeds in a folder of their own, so that publishing really is a no-op).
  export HERALD_STORE="$WORK/state-$n.db"
  pub_cmd="$qHERALD publish -C $(printf %q "$J") --output $(printf %q "$WORK/pub-$n")"
  eval "$pub_cmd" >/dev/null || die "herald publish failed on $J"
  diff=$(median_ms "$qHERALD diff -C $(printf %q "$J")") || die "timing herald diff failed"
  publish=$(median_ms "$pub_cmd") || die "timing herald publish failed"
  unset HERALD_STORE
  ROWS+=("$(awk -v n="$n" -v fl="$floor" -v b="$build" -v f="$full" -v w="$fwall" -v u="$fuser" -v s="$fsys" \
    -v r="$rss" -v fr="$frss" -v h="$hugo" -v d="$diff" -v p="$publish" 'BEGIN {
      printf "%d\t%d\t%d\t%.1fx\t%d\t%d%%\t%.1f\t%.1f\t%s\t%d\t%d\t%.2fx\n", n, fl, b, b / (fl ? fl : 1), f,
        (w > 0 ? 100 * (u + s) / w : 0), r / 1024, fr / 1024, h, d, p, d / (b ? b : 1) }')")
done

echo
{ echo "$HDR"; printf '%s\n' "${ROWS[@]}"; } | awk -F'\t' '{ for (i = 1; i <= NF; i++) printf "%-12s", $i; print "" }'
[[ -z $TSV ]] || { echo "$HDR"; printf '%s\n' "${ROWS[@]}"; } >"$TSV"
cat <<'EOF'

floor: cat of every post file. build: herald build (default limit 20). full: --limit 0.
full_cpu%: (user+sys)/wall of the full build, 200% = both cores busy. rss: peak RSS (/usr/bin/time %M).
diff: herald diff, and publish: a herald publish that finds nothing new, both against a store holding the
site's history.
targets (issue 17): default build on 10,000 posts within 1.5x of the floor and at most 48 MB peak RSS;
         the full-archive build within 2 s on 2 cores (full_cpu% near 200%) and at most 256 MB;
         no-op publish within 1.2x of the floor (bench/compare.sh measures the three in turns with cat).
EOF
