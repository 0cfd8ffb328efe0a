#!/usr/bin/env bash
# bench/compare.sh: Herald against the floors of issue 17's table, in one run. Each row's Herald command and its
# floor take turns (a warm-up pair, then PAIRS timed pairs), and the medians and their ratio are printed, with
# the CPU time and the peak RSS of each (/usr/bin/time). A benchmark, not a test: it exits non-zero only when
# something fails to run.
#
#   bench/compare.sh [-n PAIRS] [-p POSTS] [-s SUBSCRIBERS] [--small] [--only build|send]
#
#   -n PAIRS        timed pairs per row, after one warm-up pair (default 5)
#   -p POSTS        posts of the generated site of the build rows (default 10000)
#   -s SUBSCRIBERS  subscribers of the send row (default 20000)
#   --small         200 posts and 500 subscribers: a quick run that shows the script works (CI)
#   --only ROWS     only the build rows, or only the send row
#   HERALD_BIN      a herald binary to measure instead of building the tree's (an older one, for before and after)
#   HERALD_BENCH_DIR  where generated sites and Postfix's unpacked package are cached (default ${TMPDIR:-/tmp}/herald-bench)
#
# The rows: `herald build` (20-item feeds), `herald build --limit 0` and a no-op `herald publish` on a site from
# bench/gen-corpus, each against `cat` of every post; `herald send` of one new post to SUBSCRIBERS subscribers
# over 4 connections to Postfix's smtp-sink, against Postfix's smtp-source sending as many messages of the
# same size (`herald preview`'s) to the same sink over 4 connections kept open (-d), as Herald keeps its own.
# smtp-source and smtp-sink come from Debian's postfix package, downloaded (apt-get download) and unpacked
# (dpkg-deb -x) into the cache: no mail server is installed or started.
#
# Needs go, /usr/bin/time (Debian: apt-get install time), apt-get and dpkg-deb.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HERALD_BENCH_DIR:-${TMPDIR:-/tmp}/herald-bench}"
PAIRS=5 POSTS=10000 SUBS=20000 ONLY=""
usage() { sed -n "2,24p" "$0"; }
while (($#)); do
  case $1 in
    -n) PAIRS=$2; shift ;;
    -p) POSTS=$2; shift ;;
    -s) SUBS=$2; shift ;;
    --small) POSTS=200 SUBS=500 ;;
    --only) ONLY=$2; shift ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
die() { echo "compare: $*" >&2; exit 1; }
[[ $PAIRS =~ ^[1-9][0-9]*$ && $POSTS =~ ^[1-9][0-9]*$ && $SUBS =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }
[[ -z $ONLY || $ONLY == build || $ONLY == send ]] || { usage >&2; exit 2; }
[[ -x /usr/bin/time ]] || die "/usr/bin/time is missing (Debian: apt-get install time)"

WORK="$(mktemp -d)"
SINK=""
trap '[[ -z $SINK ]] || kill "$SINK" 2>/dev/null; rm -rf "$WORK"' EXIT
HERALD="$WORK/herald"
if [[ -n ${HERALD_BIN:-} ]]; then
  [[ -x $HERALD_BIN ]] || die "HERALD_BIN=$HERALD_BIN is not an executable"
  cp "$HERALD_BIN" "$HERALD"
  MEASURED="$HERALD_BIN"
  unset HERALD_BIN # Herald warns of a HERALD_ variable it does not read
else
  echo "building herald..." >&2
  (cd "$ROOT" && go build -trimpath -o "$HERALD" ./cmd/herald)
fi

# corpus N: the folder of bench/gen-corpus's site of N posts (its jekyll/ tree), generated on first use and cached
# under a hash of the generator, as bench/build.sh caches it.
corpus() {
  local n=$1 gen="$ROOT/bench/gen-corpus" key dir
  key=$(cat "$gen" "$ROOT"/bench/gencorpus/*.go | sha256sum | cut -c1-12)
  dir="$CACHE/$n-$key"
  if [[ ! -d $dir ]]; then
    echo "generating $n posts into $dir..." >&2
    rm -rf "$dir.tmp" && mkdir -p "$CACHE"
    "$gen" -n "$n" -out "$dir.tmp" >/dev/null
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir/jekyll"
}

# postfix: the folder where Debian's postfix package is unpacked, downloading it on first use.
postfix() {
  local dir="$CACHE/postfix"
  if [[ ! -x $dir/root/usr/sbin/smtp-source ]]; then
    echo "downloading and unpacking Debian's postfix package into $dir..." >&2
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    (cd "$dir.tmp" && apt-get download postfix >/dev/null 2>&1) ||
      die "apt-get download postfix failed (run apt-get update first?)"
    dpkg-deb -x "$dir.tmp"/postfix_*.deb "$dir.tmp/root"
    rm -rf "$dir" && mv "$dir.tmp" "$dir"
  fi
  echo "$dir/root"
}

# timed ROW WHO CMD: runs the shell command CMD once under /usr/bin/time and appends "ROW WHO wall_s cpu_s
# maxrss_kb" to $WORK/runs (when $RECORD is set: the warm-up pair is not). The wall time is taken around it with
# date +%s%N: /usr/bin/time's own has 10 ms steps.
RECORD=""
timed() {
  local row=$1 who=$2 cmd=$3 t0 t1 wall user sys rss
  t0=$(date +%s%N)
  /usr/bin/time -f '%U %S %M' -o "$WORK/t" bash -c "$cmd" >"$WORK/out.log" 2>&1 ||
    die "$row: $who failed: $cmd"$'\n'"$(tail -5 "$WORK/out.log")"
  t1=$(date +%s%N)
  read -r user sys rss <"$WORK/t"
  [[ -z $RECORD ]] || echo "$row $who $(( (t1 - t0) / 1000 )) $user $sys $rss" >>"$WORK/runs"
}

# --- the build rows: herald build, build --limit 0 and a no-op publish, against cat of every post ---------------
setup_build() {
  local src
  src=$(corpus "$POSTS")
  J="$WORK/site"
  cp -a "$src" "$J" # Herald keeps its posts cache beside the site: not in the shared cached corpus
  OUT="$WORK/feeds"
  export HERALD_STORE="$WORK/state.db"
  "$HERALD" publish --init -C "$J" --output "$WORK/published" >/dev/null || die "herald publish failed on $J"
  "$HERALD" build -C "$J" --output "$OUT" >/dev/null || die "herald build failed on $J"
  FLOOR_BUILD="find '$J/_posts' -type f -print0 | xargs -0 cat >/dev/null"
}
build_pair() {
  timed build floor "$FLOOR_BUILD"
  timed build herald "rm -rf '$OUT' && '$HERALD' build -C '$J' --output '$OUT'" # a fresh folder: every feed written
  timed full floor "$FLOOR_BUILD"
  timed full herald "rm -rf '$OUT' && '$HERALD' build -C '$J' --output '$OUT' --limit 0"
  timed publish floor "$FLOOR_BUILD"
  timed publish herald "'$HERALD' publish -C '$J' --output '$WORK/published'"
}

# --- the send row: herald send against smtp-source, both to one smtp-sink -----------------------------------
setup_send() {
  local pf src port user=() old new i
  pf=$(postfix)
  export LD_LIBRARY_PATH="$pf/usr/lib/postfix${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  [[ $(id -u) -ne 0 ]] || user=(-u nobody) # smtp-sink refuses to run as root
  port=$(( 20000 + RANDOM % 12000 )) # below the ephemeral ports (32768 on), which connections take
  "$pf/usr/sbin/smtp-sink" "${user[@]}" "127.0.0.1:$port" 1024 >"$WORK/sink.log" 2>&1 &
  SINK=$!
  for ((i = 0; i < 50; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    kill -0 "$SINK" 2>/dev/null || die "smtp-sink did not start: $(cat "$WORK/sink.log")"
    sleep 0.1
  done
  # A site of two of the generated posts, the newer new, and SUBS subscribers: its template, copied for each send.
  src=$(corpus "$POSTS")
  old=$(grep -L '^published: false' "$src"/_posts/*.md | sort | tail -2 | head -1)
  new=$(grep -L '^published: false' "$src"/_posts/*.md | sort | tail -1)
  T="$WORK/send-site"
  mkdir -p "$T/_posts" "$T/.herald"
  cp "$src/_config.yml" "$T/"
  printf '0123456789abcdef0123456789abcdef\n' >"$T/.herald/secret"
  printf 'from: "Jane <jane@blog.example.com>"\npostal_address: 1 Main St\nbase_url: https://news.example.com\nsmtp: smtp://127.0.0.1:%s?tls=none\nconnections: 4\n' "$port" >"$T/herald.yaml"
  awk -v n="$SUBS" 'BEGIN { print "email"; for (i = 0; i < n; i++) printf "reader%07d@example.com\n", i }' >"$WORK/subs.csv"
  cp "$old" "$T/_posts/"
  (
    unset HERALD_STORE
    "$HERALD" subscribers import -C "$T" "$WORK/subs.csv" >/dev/null
    "$HERALD" publish --init -C "$T" >/dev/null # a new history: the first post is its baseline (as CI=true requires)
    cp "$new" "$T/_posts/"
    "$HERALD" build -C "$T" --record >/dev/null
    "$HERALD" preview -C "$T" --out "$WORK/preview" >/dev/null 2>&1
  ) || die "setting up the send site failed"
  SIZE=$(wc -c <"$WORK/preview/herald-preview.eml")
  SOURCE="'$pf/usr/sbin/smtp-source' -d -s 4 -l $SIZE -m $SUBS 127.0.0.1:$port >/dev/null"
  echo "send: one post of $SIZE bytes ($(basename "$new")) to $SUBS subscribers" >&2
}
send_pair() {
  rm -rf "$WORK/s" && cp -a "$T" "$WORK/s"
  timed send floor "$SOURCE"
  timed send herald "env -u HERALD_STORE '$HERALD' send -C '$WORK/s' >'$WORK/send.out' 2>&1; grep -q 'sent $SUBS,' '$WORK/send.out' || { cat '$WORK/send.out'; exit 1; }"
}

load=$(cut -d' ' -f1 /proc/loadavg)
awk -v l="$load" 'BEGIN { exit !(l > 0.5) }' && echo "warning: load average $load before starting: expect noisy numbers" >&2
echo "$(nproc) cores, $(go version | cut -d' ' -f3), herald ${MEASURED:-at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')}; $PAIRS pairs after a warm-up" >&2
[[ $ONLY == send ]] || setup_build
[[ $ONLY == build ]] || setup_send
: >"$WORK/runs"
for ((p = 0; p <= PAIRS; p++)); do
  ((p == 0)) || RECORD=1
  ((p == 0)) && echo "warm-up pair" >&2 || echo "pair $p of $PAIRS" >&2
  [[ $ONLY == send ]] || build_pair
  [[ $ONLY == build ]] || send_pair
done

awk -v subs="$SUBS" -v posts="$POSTS" '
  function median(list,   a, n, i, j, t) {
    n = split(substr(list, 2), a, " ")
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  # The median of the ratios of each pair (herald/floor), the two runs of a pair being seconds apart: what the
  # drift of a shared machine moves least.
  function pairs(floors, heralds,   f, h, n, i, r) {
    n = split(substr(floors, 2), f, " "); split(substr(heralds, 2), h, " ")
    for (i = 1; i <= n; i++) r = r " " h[i] / f[i]
    return median(r)
  }
  { k = $1 " " $2; wall[k] = wall[k] " " $3 / 1e6; cpu[k] = cpu[k] " " ($4 + $5); rss[k] = rss[k] " " $6; seen[$1] = 1 }
  END {
    name["build"] = "herald build, " posts " posts"; name["full"] = "herald build --limit 0, " posts " posts"
    name["publish"] = "no-op herald publish, " posts " posts"; name["send"] = "herald send, 1 post, " subs " subscribers"
    printf "%-44s %10s %10s %8s %8s %10s %10s %9s\n", "row (medians)", "floor", "herald", "ratio", "pairs", "floor CPU", "herald CPU", "herald RSS"
    split("build full publish", rows, " ")
    for (i = 1; i <= 3; i++) {
      r = rows[i]; if (!seen[r]) continue
      fw = median(wall[r " floor"]); hw = median(wall[r " herald"])
      printf "%-44s %9.3fs %9.3fs %7.2fx %7.2fx %9.3fs %9.3fs %7.1fMB\n", name[r], fw, hw, hw / fw,
        pairs(wall[r " floor"], wall[r " herald"]), median(cpu[r " floor"]), median(cpu[r " herald"]), median(rss[r " herald"]) / 1024
    }
    if (seen["send"]) {
      fw = median(wall["send floor"]); hw = median(wall["send herald"])
      printf "%-44s %8.0f/s %8.0f/s %7.0f%% %7.0f%% %7.0fµs %8.0fµs %7.1fMB\n", name["send"], subs / fw, subs / hw,
        100 * fw / hw, 100 / pairs(wall["send floor"], wall["send herald"]), 1e6 * median(cpu["send floor"]) / subs, 1e6 * median(cpu["send herald"]) / subs, median(rss["send herald"]) / 1024
    }
    print ""
    print "floors: cat of every post for the build rows (ratio: herald/floor time); smtp-source -d -s 4 for send"
    print "(messages a second; ratio: the rate of herald as a share of the floor; CPU per message). pairs: the"
    print "median of the ratios of each pair, whose two runs are seconds apart. CPU: user+sys"
    print "of the process (for send, not of the sink). RSS: peak resident memory."
    print "targets (issue 17): build <= 1.5x, <= 48 MB; build --limit 0 <= 2 s, <= 256 MB; no-op publish <= 1.2x;"
    print "send >= 50% of the floor, <= 150 CPU-µs/msg."
  }' "$WORK/runs"
