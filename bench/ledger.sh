#!/usr/bin/env bash
# bench/ledger.sh: what the durable ledger costs `herald send`. Runs BenchmarkSend (the ledger),
# BenchmarkSendNoLedger (a ledger that records nothing) and BenchmarkSendFsyncOnly (no database: one
# write and one fdatasync a commit, the floor of any ledger that survives a power cut) in turns, one send
# of a post to 10,000 subscribers each, R rounds, and prints the medians and the ledger's cost:
# 1 - send/noledger (issue 17's target: at most 5% with -d 1ms, a server that answers as one across a network
# does; on loopback an fsync costs CPU that nothing hides), and the floor's.
# Taking turns matters: on a shared machine the speed drifts by 20% from one minute to the next.
#
#   bench/ledger.sh [-r ROUNDS] [-d DELAY] [-i]
#
# -d makes the sink wait that long before each reply (1ms: a server across a network).
# The sink is bench/smtpsink, in a process of its own, as a server is. -i puts it in the benchmark's process
# instead (the way of sessions before 26): its goroutines then share herald's scheduler and garbage collector,
# so that the ledger's CPU time also slows the sink's replies, which no real server suffers.
# TMPDIR=/dev/shm puts the store on a RAM disk, where an fsync is free: the ledger's own work, without the disk.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS=8
DELAY=
INPROCESS=
while getopts "r:d:ih" opt; do
  case $opt in r) ROUNDS=$OPTARG ;; d) DELAY=$OPTARG ;; i) INPROCESS=1 ;; *) sed -n "2,17p" "$0"; exit 2 ;; esac
done
WORK="$(mktemp -d)"; SINK=; trap 'if [[ -n $SINK ]]; then kill "$SINK" 2>/dev/null || true; fi; rm -rf "$WORK"' EXIT
(cd "$ROOT" && go test -c -o "$WORK/herald.test" ./cmd/herald && go build -o "$WORK/sink" ./bench/smtpsink)
ADDR=
if [[ -z $INPROCESS ]]; then
  PORT=$(( 20000 + RANDOM % 12000 )) # below the ephemeral ports (32768 on), which connections take
  "$WORK/sink" -delay "${DELAY:-0s}" "127.0.0.1:$PORT" > "$WORK/sink.out" 2>&1 & SINK=$!
  ADDR=127.0.0.1:$PORT
  for ((t = 0; ; t++)); do
    kill -0 "$SINK" 2>/dev/null || { echo "bench: smtpsink did not start: $(cat "$WORK/sink.out")" >&2; exit 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    ((t < 50)) || { echo "bench: smtpsink does not answer on 127.0.0.1:$PORT" >&2; exit 1; }
    sleep 0.1
  done
fi
cd "$ROOT/cmd/herald"
for ((i = 1; i <= ROUNDS; i++)); do
  for b in Send SendNoLedger SendFsyncOnly; do
    HERALD_BENCH_SMTP=$ADDR HERALD_BENCH_SMTP_DELAY=$DELAY "$WORK/herald.test" -test.run '^$' -test.bench "^Benchmark$b\$" -test.benchtime 1x |
      awk -v b="$b" '/msgs\/s/ { for (i = 1; i < NF; i++) v[$(i + 1)] = $i
        printf "%s %s %s %s\n", b, v["msgs/s"], v["cpu-µs/msg"], v["disk-B/msg"] }'
  done
done | tee "$WORK/runs"
if [[ -n $INPROCESS ]]; then where="in the benchmark's process (cpu-µs/msg counts its CPU too)"; else where="bench/smtpsink, a process of its own (cpu-µs/msg is herald's alone)"; fi
echo "sink: $where, delay ${DELAY:-none}"
awk '
  function median(a, n,   i, j, t) {
    for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  $1 == "Send" { s[++ns] = $2; sc[ns] = $3; sd[ns] = $4 }
  $1 == "SendNoLedger" { n[++nn] = $2; nc[nn] = $3 }
  $1 == "SendFsyncOnly" { f[++nf] = $2; fc[nf] = $3 }
  END {
    # The ratio of each round too: its three runs are a minute apart, the rounds several, so the median
    # of the ratios of the rounds is what the drift of the machine moves least
    # (median sorts its array: these come first).
    for (i = 1; i <= ns && i <= nn; i++) rs[i] = s[i] / n[i]
    for (i = 1; i <= nf && i <= nn; i++) rf[i] = f[i] / n[i]
    ms = median(s, ns); mn = median(n, nn)
    printf "median of %d rounds: ledger %.0f msgs/s (%.0f cpu-µs/msg, %.0f disk-B/msg), no ledger %.0f msgs/s (%.0f cpu-µs/msg)\n",
      ns, ms, median(sc, ns), median(sd, ns), mn, median(nc, nn)
    printf "the ledger costs %.0f%% of throughput, %.0f%% by the median of the ratios of the rounds (target: at most 5%% with -d 1ms)\n",
      100 * (1 - ms / mn), 100 * (1 - median(rs, ns < nn ? ns : nn))
    mf = median(f, nf)
    printf "one fdatasync a commit and nothing else: %.0f msgs/s (%.0f cpu-µs/msg), %.0f%% of throughput, %.0f%% by the ratios of the rounds\n",
      mf, median(fc, nf), 100 * (1 - mf / mn), 100 * (1 - median(rf, nf < nn ? nf : nn))
  }' "$WORK/runs"
