#!/usr/bin/env bash
# The end-to-end fleet run (BENCHMARKS.md, "End-to-end fleet run (5,000 machines)" and "Storage
# per rule result"): a fresh server on a temporary data dir (SQLite, or PostgreSQL in a database
# of its own), N machines registered by `rampart fleet-sim`, one profile covering them, and two
# runs started with `POST /api/v2/security-profiles/<id>:execute`:
#   full — every machine uploads its whole results file (fleet-sim --whole);
#   thin — a second run, the version known: every machine uploads its TestResult alone.
# For each it prints the time `:execute` took to answer, the time from `:execute` until
# `last_run_results` counts all N finished, fleet-sim's closing line, the server's peak RSS during
# the run and the load average; at the end the bytes of storage per stored rule result.
#
# usage: bench/fleet-run.sh [--quick] [--instances N] [--database-url postgres://…/postgres]
#   --quick          200 machines (what CI runs, to prove the bench works)
#   --instances N    machines (default 5000)
#   --database-url   a PostgreSQL server to run on: the bench creates rampart_bench_<pid> there,
#                    and drops it at the end (default: SQLite in the temporary data dir)
#   --concurrency C  fleet-sim --concurrency (default 64)
#   --thin-only      no full run: the first run uploads whole files only until the server holds
#                    the version (as agents do), the second is the thin run (for iterating)
#   --keep           keep the temporary data dir (and the PostgreSQL database)
#   RAMPART_FIXTURES the fixtures folder (default ../shared/fixtures, /work/shared/fixtures)
#   RAMPART_BIN      the server binary (default target/release/rampart, built when missing)
#   FLEET_RUN_PROFILE a folder: each run is recorded there with `perf record -e cpu-clock --call-graph dwarf` on
#                    the server (perf-full.data, perf-thin.data; `perf report -i …` reads them)
# Everything listens on 127.0.0.1; every wait is bounded (FLEET_RUN_TIMEOUT seconds a run,
# default 600), and the server, fleet-sim and the database go whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."

instances=5000
pg_url=
concurrency=64
keep=
thin_only=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) instances=200 ;;
    --instances) instances=${2:?--instances needs a number}; shift ;;
    --database-url) pg_url=${2:?--database-url needs a URL}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift ;;
    --keep) keep=1 ;;
    --thin-only) thin_only=1 ;;
    *) echo "usage: $0 [--quick] [--instances N] [--database-url postgres://…] [--concurrency C] [--thin-only] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
case "$instances" in ''|*[!0-9]*|0) echo "--instances must be a positive number" >&2; exit 2 ;; esac
timeout_s=${FLEET_RUN_TIMEOUT:-600}

fixtures=${RAMPART_FIXTURES:-}
if [ -z "$fixtures" ]; then
  if [ -d ../shared/fixtures ]; then fixtures=$(cd ../shared/fixtures && pwd); else fixtures=/work/shared/fixtures; fi
fi
results=$fixtures/xccdf/u2204-cis_l1_server.results.xml.gz
[ -f "$results" ] || { echo "no fixture $results (set RAMPART_FIXTURES)" >&2; exit 1; }
for tool in curl jq sqlite3; do
  command -v "$tool" >/dev/null || { echo "installing $tool" >&2; apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$tool" >/dev/null; }
done
if [ -n "$pg_url" ]; then
  command -v psql >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null; }
fi

bin=${RAMPART_BIN:-target/release/rampart}
if [ -z "${RAMPART_BIN:-}" ]; then
  cargo build --release --bin rampart -q
fi

dir=$(mktemp -d /tmp/rampart-fleet-run.XXXXXX)
server_pid= sim_pid= db=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  if [ -n "$db" ] && [ -z "$keep" ]; then
    psql "$pg_url" -Atqc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  fi
  if [ -z "$keep" ]; then rm -rf "$dir"; else echo "kept $dir${db:+ and database $db}" >&2; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export RAMPART_DATA_DIR=$dir/data
if [ -n "$pg_url" ]; then
  db=rampart_bench_$$
  psql "$pg_url" -Atqc "CREATE DATABASE $db" >/dev/null
  export RAMPART_DATABASE_URL="${pg_url%/*}/$db"
  backend=PostgreSQL
else
  unset RAMPART_DATABASE_URL
  backend=SQLite
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port
export RAMPART_LISTEN=127.0.0.1:$port RAMPART_MAX_INSTANCES_PER_PROFILE=$instances RAMPART_LOG=${RAMPART_LOG:-warn}

load() { cut -d' ' -f1 /proc/loadavg; }
now() { date +%s.%N; }
ms_since() { echo "$1 $(now)" | awk '{printf "%.0f", ($2 - $1) * 1000}'; }
peak_rss() { awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$server_pid/status"; }  # during the run
# CPU seconds (user + system) a process and its threads used so far; `postgres_cpu` sums every
# local postgres process (the database's share of the cores).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_cpu() { local t=0 p; for p in $(pgrep -x postgres 2>/dev/null); do t=$(echo "$t $(cpu_of "$p")" | awk '{print $1 + $2}'); done; echo "$t"; }
rss_parts() { awk '/RssAnon|RssFile/ {printf "%s %.0f MB ", $1, $2 / 1024}' "/proc/$server_pid/status"; }

echo "== fleet run: $instances machines on $backend, fleet-sim --concurrency $concurrency ($(nproc) CPUs, load $(load))"
"$bin" admin create-user --email bench@example.com --password 'bench password' >/dev/null
key=$("$bin" admin registration-key)
"$bin" serve >"$dir/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "$base/api/v2/openapi.json" && break; sleep 0.1; done
kill -0 "$server_pid" || { cat "$dir/server.log" >&2; exit 1; }
jwt=$(curl -fsS -X POST "$base/api/v2/login" -d '{"email": "bench@example.com", "password": "bench password"}' | jq -r .token)
api() { curl -fsS -H "Authorization: Bearer $jwt" "$@"; }
profile=$(api -X POST "$base/api/v2/security-profiles" -d '{"benchmark": "cis_level1_server",
  "mode": "audit", "schedule": "RRULE:FREQ=WEEKLY", "title": "fleet run",
  "start_date": "2099-01-05T02:00:00Z", "tags": ["fleet-run"]}' | jq -r .id)

# Starts fleet-sim (answering one audit per machine), :execute once every machine is polling,
# then waits until last_run_results counts all of them finished.
run() {
  local name=$1; shift
  local before started answered t0 finished line
  before=$(load)
  "$bin" fleet-sim --server "$base" --registration-key "$key" --instances "$instances" \
    --results "$results" --tags fleet-run --concurrency "$concurrency" --seed 1 --runs 1 \
    --state "$dir/machines.json" --duration "$timeout_s" "$@" >"$dir/sim-$name.out" 2>"$dir/sim-$name.err" &
  sim_pid=$!
  # Every machine registered (the profile covers them) and fleet-sim polling.
  started=$(now)
  until [ "$(api "$base/api/v2/security-profiles/$profile" | jq .associated_instances)" = "$instances" ]; do
    kill -0 "$sim_pid" 2>/dev/null || { cat "$dir/sim-$name.err" >&2; exit 1; }
    [ "$(ms_since "$started")" -lt $((timeout_s * 1000)) ] || { echo "machines not registered after ${timeout_s} s" >&2; exit 1; }
    sleep 0.5
  done
  sleep 3
  local perf_pid=
  if [ -n "${FLEET_RUN_PROFILE:-}" ]; then
    mkdir -p "$FLEET_RUN_PROFILE"
    perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -p "$server_pid" -o "$FLEET_RUN_PROFILE/perf-$name.data" 2>/dev/null &
    perf_pid=$!
    sleep 0.5
  fi
  # The peak RSS is this run's own: writing 5 to clear_refs resets VmHWM to the current RSS.
  echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || echo "(cannot reset the peak RSS: it counts from the server's start)" >&2
  local cpu0 pg0
  cpu0=$(cpu_of "$server_pid") pg0=$(postgres_cpu)
  t0=$(now)
  answered=$(api -o /dev/null -w '%{time_total}' -X POST "$base/api/v2/security-profiles/$profile:execute")
  while :; do
    finished=$(api "$base/api/v2/security-profiles/$profile" | jq '.last_run_results | .passing + .failing')
    [ "$finished" = "$instances" ] && break
    if [ "$(ms_since "$t0")" -gt $((timeout_s * 1000)) ]; then
      echo "$name: only $finished of $instances finished after ${timeout_s} s" >&2; exit 1
    fi
    sleep 0.1
  done
  local all cpu pg
  all=$(ms_since "$t0")
  cpu=$(echo "$cpu0 $(cpu_of "$server_pid")" | awk '{printf "%.1f", $2 - $1}')
  pg=$(echo "$pg0 $(postgres_cpu)" | awk '{printf "%.1f", $2 - $1}')
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  wait "$sim_pid" || { cat "$dir/sim-$name.err" >&2; exit 1; }
  sim_pid=
  line=$(tail -n 1 "$dir/sim-$name.out")
  printf '%s: :execute answered in %.0f ms · all %d finished %.2f s after :execute · server peak RSS %s · load %s before, %s after\n' \
    "$name" "$(echo "$answered" | awk '{print $1 * 1000}')" "$instances" "$(echo "$all" | awk '{print $1 / 1000}')" \
    "$(peak_rss)" "$before" "$(load)"
  echo "  CPU seconds during the run: server $cpu, postgres (all local processes) $pg · server now: $(rss_parts)"
  echo "  $line"
}

if [ -n "$thin_only" ]; then run first; else run full --whole; fi
run thin

# Bytes of storage per stored rule result.
if [ -n "$pg_url" ]; then
  psql "$RAMPART_DATABASE_URL" -Atqc "ANALYZE rule_results" >/dev/null
  psql "$RAMPART_DATABASE_URL" -AtqF ' ' -c "SELECT count(*), pg_relation_size('rule_results'),
      pg_total_relation_size('rule_results') FROM rule_results" |
    awk '{printf "storage: %d rule results · table %.1f bytes each, with its index %.1f bytes each (pg_total_relation_size)\n", $1, $2 / $1, $3 / $1}'
else
  dbfile=$RAMPART_DATA_DIR/rampart.db
  rows=$(sqlite3 "$dbfile" "SELECT count(*) FROM rule_results")
  pages=$(sqlite3 "$dbfile" "SELECT sum(pgsize), sum(payload) FROM dbstat WHERE name = 'rule_results'")
  sqlite3 "$dbfile" "VACUUM INTO '$dir/vacuumed.db'"
  vacuumed=$(sqlite3 "$dir/vacuumed.db" "SELECT sum(pgsize) FROM dbstat WHERE name = 'rule_results'")
  whole=$(stat -c %s "$dir/vacuumed.db")
  echo "$rows ${pages%|*} ${pages#*|} $vacuumed $whole" |
    awk '{printf "storage: %d rule results · rule_results %.1f bytes each (dbstat: pages; %.1f of them payload), %.1f after VACUUM · whole database after VACUUM %.1f bytes each\n", $1, $2 / $1, $3 / $1, $4 / $1, $5 / $1}'
fi
