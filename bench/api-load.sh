#!/usr/bin/env bash
# The security-profile API under load with a fleet run stored (BENCHMARKS.md, "API under load"),
# and the detailed report of that run (BENCHMARKS.md, "Detailed report").
#
# For each backend: a `rampart serve` on a fresh data dir (PostgreSQL: a fresh database), a user,
# `rampart fleet-sim` registering and auditing N machines (tag `bench`, the u2204 fixture), a
# profile covering them run once with `:execute`; then wrk against
# `GET /api/v2/security-profiles` and `GET /api/v2/security-profiles/<id>`, printing requests/s
# and p99; with --report also the detailed CSV report of the run (rows/s, the server's peak
# resident memory while it was written).
#
# usage: bench/api-load.sh [--quick] [--report | --report-in-place] [--backend sqlite|postgres|both]
#   --quick                   200 machines, 3 s per wrk run (what CI runs, to prove it works)
#   --report                  also time the detailed report of the run, in a server restarted on
#                             the run's data (the peak shown is the report's)
#   --report-in-place         the same, in the server that ingested the run (the peak shown is the
#                             server's since it started: ingest, wrk and report)
#   API_LOAD_INSTANCES        machines (default 5000; --quick: 200)
#   API_LOAD_SECONDS          seconds per wrk run (default 20; --quick: 3)
#   API_LOAD_THREADS          wrk threads (default 2)
#   API_LOAD_CONNECTIONS      wrk connections (default 64)
#   API_LOAD_RUNS             wrk runs per endpoint, best kept (default 3; --quick: 1)
#   RAMPART_TEST_POSTGRES_URL the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres)
#   RAMPART_FIXTURES          the fixtures folder (default ../shared/fixtures, /work/shared/fixtures)
#   RAMPART_BIN               a rampart binary to measure (default: target/release/rampart, built)
#   REPORT_DEADLINE           seconds the report may take before the benchmark fails (default 600)
# Needs python3 (JSON answers, a free port); installs wrk and curl when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
. bench/lib.sh

instances=${API_LOAD_INSTANCES:-}
seconds=${API_LOAD_SECONDS:-}
runs=${API_LOAD_RUNS:-}
threads=${API_LOAD_THREADS:-2}
connections=${API_LOAD_CONNECTIONS:-64}
report_deadline=${REPORT_DEADLINE:-600}
backends=(sqlite postgres)
report=0
report_in_place=0
quick=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --report) report=1 ;;
    --report-in-place) report=1 report_in_place=1 ;;
    --backend)
      shift
      case "${1:-}" in
        sqlite | postgres) backends=("$1") ;;
        both) backends=(sqlite postgres) ;;
        *) echo "--backend is sqlite, postgres or both" >&2; exit 2 ;;
      esac
      ;;
    *) echo "usage: $0 [--quick] [--report | --report-in-place] [--backend sqlite|postgres|both]" >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  instances=${instances:-200} seconds=${seconds:-3} runs=${runs:-1}
fi
instances=${instances:-5000} seconds=${seconds:-20} runs=${runs:-3}

# What the benchmark needs, installed only when absent.
command -v python3 >/dev/null 2>&1 || { echo "bench/api-load.sh needs python3" >&2; exit 1; }
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v curl >/dev/null 2>&1 || missing+=(curl)
install_missing "${missing[@]}"

fixtures=$(fixtures_dir)
results=$fixtures/xccdf/u2204-cis_l1_server.results.xml.gz
test -f "$results" || { echo "no fixture at $results (set RAMPART_FIXTURES)" >&2; exit 1; }
pg_base=${RAMPART_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}

bin=${RAMPART_BIN:-}
if [ -z "$bin" ]; then
  echo "building rampart (release)…" >&2
  cargo build -q --release --bin rampart >&2
  bin=$PWD/target/release/rampart
fi

tmp=$(mktemp -d)
server_pid=
sim_pid=
pg_db=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null || true
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  if [ -n "$pg_db" ]; then psql "$pg_base" -qAtc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# A JSON field of stdin (a number or a string), by a Python expression on `d`.
json() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

# start_server DATA PORT OPTIONS…: `rampart serve` on DATA (its log appended to DATA/server.log),
# in the background as $server_pid, once it answers; fails, printing the log, when it stops or
# does not answer within 30 s.
start_server() {
  local data=$1 port=$2
  shift 2
  RAMPART_LOG=${RAMPART_LOG:-info} "$bin" serve "$@" --listen "127.0.0.1:$port" \
    >>"$data/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/api/v2/openapi.json" 2>/dev/null && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "the server stopped:" >&2; cat "$data/server.log" >&2; return 1; }
    sleep 0.1
  done
  echo "the server did not answer within 30 s:" >&2
  cat "$data/server.log" >&2
  return 1
}

# bench_backend NAME: the whole benchmark on one backend; prints its lines on stdout.
bench_backend() {
  local backend=$1 data=$tmp/$1 port url options=()
  mkdir -p "$data"
  port=$(free_port)
  url=http://127.0.0.1:$port
  options=(--data-dir "$data")
  if [ "$backend" = postgres ]; then
    pg_db=rampart_bench_api_$$
    psql "$pg_base" -qAtc "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1
    psql "$pg_base" -qAtc "CREATE DATABASE $pg_db" >/dev/null
    options+=(--database-url "${pg_base%/*}/$pg_db")
  fi
  start_server "$data" "$port" "${options[@]}" || return 1
  bench_user "$bin" "${options[@]}"
  local key jwt
  key=$("$bin" admin registration-key "${options[@]}")
  jwt=$(bench_login "$url" | json 'd["token"]')
  local auth=(-H "Authorization: Bearer $jwt") # for wrk; curl goes through api

  echo "[$backend] fleet-sim: $instances machines registering…" >&2
  "$bin" fleet-sim --server "$url" --registration-key "$key" --instances "$instances" \
    --results "$results" --tags bench --concurrency 64 --seed 1 --no-progress \
    >"$data/fleet-sim.out" 2>"$data/fleet-sim.err" &
  sim_pid=$!
  local registered=0
  for _ in $(seq 1 1200); do
    registered=$(api "$url/api/v2/computers?limit=1" | json 'd["count"]')
    [ "$registered" -ge "$instances" ] && break
    kill -0 "$sim_pid" 2>/dev/null || { cat "$data/fleet-sim.err" >&2; return 1; }
    sleep 0.25
  done
  [ "$registered" -ge "$instances" ] || { echo "only $registered machines registered" >&2; return 1; }
  local profile
  profile=$(api -X POST "$url/api/v2/security-profiles" -d '{
    "benchmark": "cis_level1_server", "mode": "audit", "schedule": "RRULE:FREQ=WEEKLY",
    "title": "Bench", "start_date": "2099-01-05T02:00:00Z", "tags": ["bench"]}' | json 'd["id"]')
  local run_started
  run_started=$(date +%s.%N)
  api -o /dev/null -X POST "$url/api/v2/security-profiles/$profile:execute"
  echo "[$backend] run of profile $profile started; waiting for fleet-sim…" >&2
  wait "$sim_pid" || { cat "$data/fleet-sim.err" >&2; sim_pid=; return 1; }
  sim_pid=
  local finished
  finished=$(api "$url/api/v2/security-profiles/$profile" |
    json 'd["last_run_results"]["passing"] + d["last_run_results"]["failing"]')
  [ "$finished" = "$instances" ] || { echo "the run finished $finished of $instances machines" >&2; return 1; }
  echo "[$backend] run: $instances machines finished, $(awk -v s="$run_started" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }') s after :execute; $(cat "$data/fleet-sim.out")"

  # wrk_best URL: the best of `runs` wrk runs, as "requests/s p99".
  wrk_best() {
    local best_rps=0 best_p99=
    api -o /dev/null "$1" # the answer is a 200 before it is measured
    wrk -t"$threads" -c"$connections" -d1s "${auth[@]}" "$1" >/dev/null # warm-up
    for _ in $(seq 1 "$runs"); do
      local out rps p99 non2xx
      out=$(wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency "${auth[@]}" "$1")
      non2xx=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
      [ -z "$non2xx" ] || { echo "wrk saw $non2xx answers that were not 2xx:" >&2; echo "$out" >&2; return 1; }
      rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
      p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
      if awk -v a="$rps" -v b="$best_rps" 'BEGIN { exit !(a > b) }'; then best_rps=$rps best_p99=$p99; fi
    done
    echo "$best_rps $best_p99"
  }
  local load_before list get load_after
  load_before=$(load)
  list=$(wrk_best "$url/api/v2/security-profiles")
  get=$(wrk_best "$url/api/v2/security-profiles/$profile")
  load_after=$(load)
  echo "[$backend] wrk -t$threads -c$connections, best of $runs x ${seconds}s, $instances machines stored; load average $load_before before, $load_after after"
  printf '[%s] %-40s %10s req/s   p99 %s\n' "$backend" "GET /api/v2/security-profiles" $list
  printf '[%s] %-40s %10s req/s   p99 %s\n' "$backend" "GET /api/v2/security-profiles/$profile" $get

  if [ "$report" = 1 ]; then
    local today activity status rss_before rss_peak started took name bytes rows
    today=$(date -u +%F)
    echo "[$backend] server resident after the run and wrk: $(( $(awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status") / 1024 )) MB (peak $(( $(awk '/^VmHWM/ { print $2 }' "/proc/$server_pid/status") / 1024 )) MB)"
    if [ "$report_in_place" = 1 ]; then
      # The report in the server that ingested the run: its peak is the process's, from its
      # start through the ingest, wrk and the report.
      echo "[$backend] the report in the same server (peak since it started)"
    else
      # The report in a server started afresh on the same data, so that its peak is the
      # report's and not what the ingest of the run left resident.
      echo "[$backend] restarting the server for the report"
      kill "$server_pid"
      wait "$server_pid" 2>/dev/null || true
      start_server "$data" "$port" "${options[@]}" || return 1
      echo 5 >"/proc/$server_pid/clear_refs" # the peak from here on
    fi
    rss_before=$(awk '/^VmRSS/ { print $2 }' "/proc/$server_pid/status")
    load_before=$(load)
    started=$(date +%s%N)
    activity=$(api "$url/api/v2/security-profiles/$profile/report?start_date=$today&detailed=true" | json 'd["id"]')
    # Polled until it ends, for at most REPORT_DEADLINE seconds: a report that never ends fails
    # the benchmark instead of hanging CI.
    local deadline=$(( $(date +%s) + report_deadline ))
    status=in-progress
    while [ "$status" = in-progress ]; do
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "the report did not end within ${report_deadline} s (activity $activity still in progress)" >&2
        tail "$data/server.log" >&2
        return 1
      fi
      sleep 0.05
      status=$(api "$url/api/v2/activities/$activity" | json 'd.get("activity_status", "")') ||
        status=
      [ -n "$status" ] || {
        echo "activity $activity of the report could not be read, or has no activity_status" >&2
        tail "$data/server.log" >&2
        return 1
      }
    done
    took=$(( ($(date +%s%N) - started) / 1000000 ))
    load_after=$(load)
    [ "$status" = succeeded ] || { echo "the report ended $status, not succeeded" >&2; tail "$data/server.log" >&2; return 1; }
    rss_peak=$(awk '/^VmHWM/ { print $2 }' "/proc/$server_pid/status")
    name=$(api "$url/api/v2/activities/$activity" | json 'd["result_text"]')
    # The writer's own time, from its log line; rows = line ends less the header.
    local written_ms
    written_ms=$(grep "report written" "$data/server.log" | tail -n 1 | sed -n 's/.*ms=\([0-9]*\).*/\1/p')
    api -H 'Accept: text/csv' "$url/api/v2/security-profiles/blob?path=$name" -o "$data/report.csv"
    bytes=$(stat -c %s "$data/report.csv")
    rows=$(( $(grep -c $'\r$' "$data/report.csv") - 1 ))
    echo "[$backend] detailed report: $rows rows, $(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1e6 }') MB in ${written_ms} ms (request to succeeded: ${took} ms) = $(awk -v r="$rows" -v t="$written_ms" 'BEGIN { printf "%.0f", r / (t / 1000) }') rows/s; server peak resident $(( rss_peak / 1024 )) MB ($(( rss_before / 1024 )) MB before); load average $load_before before, $load_after after"
  fi

  kill "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
  if [ -n "$pg_db" ]; then psql "$pg_base" -qAtc "DROP DATABASE IF EXISTS $pg_db" >/dev/null; pg_db=; fi
}

echo "server: rampart serve (tokio's default runtime: one worker per core, 2 here); wrk: $threads threads, $connections connections" >&2
for backend in "${backends[@]}"; do
  bench_backend "$backend"
done
