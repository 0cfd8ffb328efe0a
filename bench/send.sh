#!/usr/bin/env bash
# bench/send.sh: benchmark `herald send` of one new post to N subscribers (default 100,000) over loopback
# to an SMTP sink (bench/smtpsink) with 4 connections, through the durable ledger; reports messages per
# second and peak memory (target: >= 1,000 msgs/s, < 100 MB at 100,000 subscribers), with the peak of its anonymous
# memory and of its connections to the store.
#
#   bench/send.sh [-n SUBSCRIBERS]
#
# Needs go and /usr/bin/time (Debian: apt-get install time).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=100000
while getopts "n:h" opt; do
  case $opt in n) N=$OPTARG ;; *) sed -n "2,9p" "$0"; exit 2 ;; esac
done
[[ -x /usr/bin/time ]] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
WORK="$(mktemp -d)"; trap 'kill $SINK 2>/dev/null || true; rm -rf "$WORK"' EXIT
(cd "$ROOT" && go build -trimpath -o "$WORK/herald" ./cmd/herald && go build -trimpath -o "$WORK/sink" ./bench/smtpsink)
PORT=$(( 20000 + RANDOM % 12000 )) # below the ephemeral ports (32768 on), which connections take
"$WORK/sink" "127.0.0.1:$PORT" > "$WORK/sink.out" 2>&1 & SINK=$!
S="$WORK/site"; mkdir -p "$S/_posts"
printf 'title: Bench\nurl: https://blog.example.com\n' > "$S/_config.yml"
printf 'from: "Jane <jane@blog.example.com>"\npostal_address: 1 Main St\nbase_url: https://news.example.com\nsmtp: smtp://127.0.0.1:%s?tls=none\n' "$PORT" > "$S/herald.yaml"
mkdir -p "$S/.herald" && printf '0123456789abcdef0123456789abcdef\n' > "$S/.herald/secret"
printf -- '---\ntitle: Old\n---\nold\n' > "$S/_posts/2020-01-01-old.md"
{ echo email; for ((i = 0; i < N; i++)); do printf 'reader%07d@example.com\n' "$i"; done; } > "$WORK/subs.csv"
"$WORK/herald" subscribers import -C "$S" "$WORK/subs.csv" >/dev/null
"$WORK/herald" publish -C "$S" >/dev/null
printf -- '---\ntitle: New post\n---\nSome *text*, and [a link](/x/).\n' > "$S/_posts/2021-01-01-new.md"
"$WORK/herald" build -C "$S" --record >/dev/null
/usr/bin/time -f '%e %M' -o "$WORK/t" "$WORK/herald" send -C "$S" | tail -1 & SEND=$!
# Every half second, the send's anonymous RSS (the Go heap and SQLite's page caches; the rest of its RSS is the
# binary's pages) and how many connections it holds to the store (its descriptors of state.db).
sleep 0.2; HP=$(pgrep -n -f "^$WORK/herald send" || true); anon=0; conns=0
while [[ -n "$HP" && -d /proc/$HP ]]; do
  a=$(awk '/^RssAnon:/ { print $2 }' "/proc/$HP/status" 2>/dev/null || true)
  c=$(find "/proc/$HP/fd" -lname '*/state.db' 2>/dev/null | wc -l)
  (( ${a:-0} > anon )) && anon=$a; (( c > conns )) && conns=$c
  sleep 0.5
done
wait "$SEND"
kill -0 "$SINK" 2>/dev/null || { echo "bench: the sink stopped during the send: $(cat "$WORK/sink.out")" >&2; exit 1; }
read -r wall rss < "$WORK/t"
awk -v n="$N" -v w="$wall" -v r="$rss" -v a="$anon" -v c="$conns" 'BEGIN { printf "subscribers %d: %.1f s, %d msgs/s, peak RSS %.1f MB (anonymous %.1f MB), store connections %d\n", n, w, n / w, r / 1024, a / 1024, c }'
