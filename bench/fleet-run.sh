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
#   --servers 2      two `rampart serve` processes on the one PostgreSQL database, a fleet-sim per
#                    server with half the machines; the first run is started with :execute, the
#                    second (thin) by the servers' schedulers (a profile due 5 s later); each run
#                    checks it started once and stored every machine's upload once
#   --max-instances  RAMPART_MAX_INSTANCES_PER_PROFILE (default: --instances)
#   --keep           keep the temporary data dir (and the PostgreSQL database)
#   RAMPART_FIXTURES the fixtures folder (default ../shared/fixtures, /work/shared/fixtures)
#   RAMPART_BIN      the server binary (default target/release/rampart, built when missing)
#   FLEET_RUN_PROFILE a folder: each run is recorded there with `perf record -e cpu-clock --call-graph dwarf` on
#                    the server (perf-full.data, perf-thin.data; `perf report -i …` reads them)
# Everything listens on 127.0.0.1; every wait is bounded (FLEET_RUN_TIMEOUT seconds a run,
# default 600), and the server, fleet-sim and the database go whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
. bench/lib.sh

instances=5000
pg_url=
concurrency=64
keep=
thin_only=
servers=1
max_instances=
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) instances=200 ;;
    --instances) instances=${2:?--instances needs a number}; shift ;;
    --database-url) pg_url=${2:?--database-url needs a URL}; shift ;;
    --concurrency) concurrency=${2:?--concurrency needs a number}; shift ;;
    --keep) keep=1 ;;
    --thin-only) thin_only=1 ;;
    --servers) servers=${2:?--servers needs a number}; shift ;;
    --max-instances) max_instances=${2:?--max-instances needs a number}; shift ;;
    *) echo "usage: $0 [--quick] [--instances N] [--database-url postgres://…] [--concurrency C] [--thin-only] [--servers 1|2] [--max-instances N] [--keep]" >&2; exit 2 ;;
  esac
  shift
done
case "$instances" in ''|*[!0-9]*|0) echo "--instances must be a positive number" >&2; exit 2 ;; esac
case "$servers" in 1|2) ;; *) echo "--servers must be 1 or 2" >&2; exit 2 ;; esac
if [ "$servers" -gt 1 ] && [ -z "$pg_url" ]; then echo "--servers 2 needs --database-url (servers share a PostgreSQL database)" >&2; exit 2; fi
max_instances=${max_instances:-$instances}
timeout_s=${FLEET_RUN_TIMEOUT:-600}

fixtures=$(fixtures_dir)
results=$fixtures/xccdf/u2204-cis_l1_server.results.xml.gz
[ -f "$results" ] || { echo "no fixture $results (set RAMPART_FIXTURES)" >&2; exit 1; }
for tool in curl jq sqlite3; do
  command -v "$tool" >/dev/null || install_missing "$tool"
done
if [ -n "$pg_url" ]; then
  command -v psql >/dev/null || apt_install postgresql-client # silently, as it always was
fi

bin=${RAMPART_BIN:-target/release/rampart}
if [ -z "${RAMPART_BIN:-}" ]; then
  cargo build --release --bin rampart -q
fi

dir=$(mktemp -d /tmp/rampart-fleet-run.XXXXXX)
server_pids=() sim_pids=() db=
cleanup() {
  local p
  for p in "${sim_pids[@]}" "${server_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
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
sql() {
  if [ -n "$pg_url" ]; then psql "$RAMPART_DATABASE_URL" -AtqF ' ' -c "$1"; else sqlite3 -separator ' ' "$RAMPART_DATA_DIR/rampart.db" "$1"; fi
}
bases=()
for _ in $(seq 1 "$servers"); do bases+=("http://127.0.0.1:$(free_port)"); done
base=${bases[0]}
# Both servers look for due runs every second (the scheduled run of --servers 2).
export RAMPART_MAX_INSTANCES_PER_PROFILE=$max_instances RAMPART_LOG=${RAMPART_LOG:-warn} RAMPART_SCHEDULER_INTERVAL_SECONDS=1

now() { date +%s.%N; }
ms_since() { echo "$1 $(now)" | awk '{printf "%.0f", ($2 - $1) * 1000}'; }
peak_rss() { awk '/VmHWM/ {printf "%.0f MB", $2 / 1024}' "/proc/$1/status"; }  # since the reset below
# CPU seconds (user + system) a process and its threads used so far; `postgres_cpu` sums every
# local postgres process (the database's share of the cores).
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
postgres_cpu() { local t=0 p; for p in $(pgrep -x postgres 2>/dev/null); do t=$(echo "$t $(cpu_of "$p")" | awk '{print $1 + $2}'); done; echo "$t"; }
servers_cpu() { local t=0 p; for p in "${server_pids[@]}"; do t=$(echo "$t $(cpu_of "$p")" | awk '{print $1 + $2}'); done; echo "$t"; }
rss_parts() { awk '/RssAnon|RssFile/ {printf "%s %.0f MB ", $1, $2 / 1024}' "/proc/$1/status"; }

echo "== fleet run: $instances machines on $backend, $servers server(s), fleet-sim --concurrency $concurrency per server ($(nproc) CPUs, load $(load))"
bench_user "$bin"
key=$("$bin" admin registration-key)
for i in "${!bases[@]}"; do
  RAMPART_LISTEN=${bases[$i]#http://} "$bin" serve >"$dir/server-$((i + 1)).log" 2>&1 &
  server_pids+=($!)
  await_server "${bases[$i]}" "${server_pids[$i]}" "$dir/server-$((i + 1)).log"
done
jwt=$(bench_login "$base" | jq -r .token)
profile=$(api -X POST "$base/api/v2/security-profiles" -d '{"benchmark": "cis_level1_server",
  "mode": "audit", "schedule": "RRULE:FREQ=WEEKLY", "title": "fleet run",
  "start_date": "2099-01-05T02:00:00Z", "tags": ["fleet-run"]}' | jq -r .id)

# Starts fleet-sim (one per server, each with its share of the machines, answering one audit
# per machine), starts the run once every machine is polling — `execute`: :execute on the first
# server; `schedule`: a second profile over the same machines whose first run is due 5 s later,
# left to the servers' schedulers — then waits until last_run_results counts all of them
# finished, and checks what was stored.
run() {
  local name=$1 start=$2; shift 2
  local before started answered t0 finished i share p
  before=$(load)
  sim_pids=()
  for i in "${!bases[@]}"; do
    share=$((instances / servers))
    [ "$i" -eq $((servers - 1)) ] && share=$((instances - share * (servers - 1)))
    "$bin" fleet-sim --server "${bases[$i]}" --registration-key "$key" --instances "$share" \
      --results "$results" --tags fleet-run --concurrency "$concurrency" --seed $((i + 1)) --runs 1 \
      --state "$dir/machines-$((i + 1)).json" --duration "$timeout_s" "$@" \
      >"$dir/sim-$name-$((i + 1)).out" 2>"$dir/sim-$name-$((i + 1)).err" &
    sim_pids+=($!)
  done
  # Every machine registered (the profile covers them) and fleet-sim polling.
  started=$(now)
  until [ "$(api "$base/api/v2/security-profiles/$profile" | jq .associated_instances)" = "$instances" ]; do
    for p in "${sim_pids[@]}"; do kill -0 "$p" 2>/dev/null || { cat "$dir"/sim-"$name"-*.err >&2; exit 1; }; done
    [ "$(ms_since "$started")" -lt $((timeout_s * 1000)) ] || { echo "machines not registered after ${timeout_s} s" >&2; exit 1; }
    sleep 0.5
  done
  sleep 3
  local perf_pid=
  if [ -n "${FLEET_RUN_PROFILE:-}" ]; then
    mkdir -p "$FLEET_RUN_PROFILE"
    perf record -q -e cpu-clock -F 499 --call-graph dwarf,16384 -p "${server_pids[0]}" -o "$FLEET_RUN_PROFILE/perf-$name.data" 2>/dev/null &
    perf_pid=$!
    sleep 0.5
  fi
  # The peak RSS is this run's own: writing 5 to clear_refs resets VmHWM to the current RSS.
  for p in "${server_pids[@]}"; do
    echo 5 >"/proc/$p/clear_refs" 2>/dev/null || echo "(cannot reset the peak RSS: it counts from the server's start)" >&2
  done
  local cpu0 pg0 watched=$profile how expected=1
  cpu0=$(servers_cpu) pg0=$(postgres_cpu)
  if [ "$start" = execute ]; then
    executed=$((executed + 1)); expected=$executed
    t0=$(now)
    answered=$(api -o /dev/null -w '%{time_total}' -X POST "$base/api/v2/security-profiles/$profile:execute")
    how=$(printf ':execute answered in %.0f ms · all %d finished' "$(echo "$answered" | awk '{print $1 * 1000}')" "$instances")
  else
    local at epoch
    epoch=$(( $(date +%s) + 5 ))
    at=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
    watched=$(api -X POST "$base/api/v2/security-profiles" -d '{"benchmark": "cis_level1_server",
      "mode": "audit", "schedule": "RRULE:FREQ=WEEKLY", "title": "fleet run, scheduled",
      "start_date": "'"$at"'", "tags": ["fleet-run"]}' | jq -r .id)
    until [ "$(date +%s)" -ge "$epoch" ]; do sleep 0.05; done
    t0=$(now)
    how=$(printf 'scheduled for %s, fired by the servers · all %d finished' "$at" "$instances")
  fi
  while :; do
    finished=$(api "$base/api/v2/security-profiles/$watched" | jq '(.last_run_results // {passing: 0, failing: 0}) | .passing + .failing')
    [ "$finished" = "$instances" ] && break
    if [ "$(ms_since "$t0")" -gt $((timeout_s * 1000)) ]; then
      echo "$name: only $finished of $instances finished after ${timeout_s} s" >&2; exit 1
    fi
    sleep 0.1
  done
  local all cpu pg rss=
  all=$(ms_since "$t0")
  cpu=$(echo "$cpu0 $(servers_cpu)" | awk '{printf "%.1f", $2 - $1}')
  pg=$(echo "$pg0 $(postgres_cpu)" | awk '{printf "%.1f", $2 - $1}')
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" || true; fi
  for p in "${sim_pids[@]}"; do wait "$p" || { cat "$dir"/sim-"$name"-*.err >&2; exit 1; }; done
  sim_pids=()
  for p in "${server_pids[@]}"; do rss="$rss${rss:+ + }$(peak_rss "$p")"; done
  printf '%s: %s %.2f s after it · server peak RSS %s · load %s before, %s after\n' \
    "$name" "$how" "$(echo "$all" | awk '{print $1 / 1000}')" "$rss" "$before" "$(load)"
  echo "  CPU seconds during the run: server(s) $cpu, postgres (all local processes) $pg · first server now: $(rss_parts "${server_pids[0]}")"
  for i in "${!bases[@]}"; do echo "  $(tail -n 1 "$dir/sim-$name-$((i + 1)).out")"; done
  # What was stored: every machine's upload once, its rule rows its counts, the run started once.
  local runs audits machines rows counted errors
  runs=$(sql "SELECT count(*) FROM runs WHERE profile_id = $watched")
  read -r audits machines < <(sql "SELECT count(*), count(DISTINCT computer_id) FROM audits
    WHERE run_id = (SELECT last_run_id FROM security_profiles WHERE id = $watched)")
  read -r rows counted < <(sql "SELECT (SELECT count(*) FROM rule_results r JOIN audits a ON a.id = r.audit_id
      WHERE a.run_id = s.last_run_id), (SELECT sum(passing_rules + failing_rules + other_rules) FROM audits
      WHERE run_id = s.last_run_id) FROM security_profiles s WHERE s.id = $watched")
  errors=$(cat "$dir"/sim-"$name"-*.out | grep -o '· [0-9]* errors' | awk '{s += $2} END {print s + 0}')
  local verdict=ok
  [ "$runs" = "$expected" ] && [ "$audits" = "$instances" ] && [ "$machines" = "$instances" ] && [ "$rows" = "$counted" ] && [ "$errors" = 0 ] || verdict=FAILED
  echo "  checks ($verdict): runs of the profile $runs ($expected) · audits $audits for $machines distinct machines ($instances) · rule rows $rows = the audits' counts $counted · errors seen by agents $errors (0)"
  [ "$verdict" = ok ] || exit 1
}

executed=0
if [ -n "$thin_only" ]; then run first execute; else run full execute --whole; fi
if [ "$servers" -gt 1 ]; then run thin schedule; else run thin execute; fi

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
