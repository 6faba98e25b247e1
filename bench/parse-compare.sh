#!/usr/bin/env bash
# rampart's XCCDF parser against the peers' way (a Python lxml DOM parse extracting the same data)
# and against OpenSCAP itself (`oscap xccdf generate report`), in one run, on the fixture
# u2204-cis_l1_server.results.xml.gz (BENCHMARKS.md, "Parser"). Prints best-of times and ratios.
#
# usage: bench/parse-compare.sh [--quick]
#   PARSE_COMPARE_ROUNDS      rounds, each running all three in turn (default 3; --quick: 1)
#   PARSE_COMPARE_ITERATIONS  in-process iterations per round for rampart and lxml (default 10;
#                             --quick: 2); oscap runs once per round
#   RAMPART_FIXTURES          the fixtures folder (default ../shared/fixtures, /work/shared/fixtures)
#   PYTHON                    the Python that has lxml (default /usr/bin/python3, Debian's)
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR/..
. bench/lib.sh

rounds=${PARSE_COMPARE_ROUNDS:-3}
iterations=${PARSE_COMPARE_ITERATIONS:-10}
case "${1:-}" in
  "") ;;
  --quick) rounds=1 iterations=2 ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac
python=${PYTHON:-/usr/bin/python3}

# What the comparison needs, installed only when absent.
missing=()
"$python" -c 'import lxml.etree' >/dev/null 2>&1 || missing+=(python3-lxml)
command -v oscap >/dev/null 2>&1 || missing+=(openscap-scanner)
install_missing "${missing[@]}"

fixtures=$(fixtures_dir)
export RAMPART_FIXTURES=$fixtures
gz=$fixtures/xccdf/u2204-cis_l1_server.results.xml.gz
thin=$fixtures/xccdf/u2204-cis_l1_server.testresult-only.xml

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gzip -dc "$gz" >"$tmp/results.xml"
size=$(stat -c %s "$tmp/results.xml")

echo "building the parser benchmark (release)…" >&2
cargo bench -q -p rampart-domain --bench parse --no-run >&2

# Smallest of column $2 over the lines of stdin; an empty input is an error.
min_of() { awk -v col="$1" 'NR == 1 || $col < m { m = $col } END { if (NR == 0) exit 1; printf "%.3f", m }'; }
now_ns() { date +%s%N; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$rounds"); do
  echo "round $round/$rounds: rampart, lxml, oscap" >&2
  cargo bench -q -p rampart-domain --bench parse -- \
    --machine --cases a,b,c --iterations "$iterations" --warmup 2 >>"$tmp/rampart.tsv"
  "$python" bench/lxml_parse.py "$tmp/results.xml" "$iterations" >>"$tmp/lxml.txt"
  "$python" bench/lxml_parse.py "$thin" "$iterations" >>"$tmp/lxml-thin.txt"
  start=$(now_ns)
  oscap xccdf generate report "$tmp/results.xml" >/dev/null
  echo $(( ($(now_ns) - start) / 1000 )) >>"$tmp/oscap.txt"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

rampart() { awk -v c="$1" '$1 == c' "$tmp/rampart.tsv" | min_of 2; }
a=$(rampart a)
b=$(rampart b)
c=$(rampart c)
lxml_tree=$(min_of 1 <"$tmp/lxml.txt")
lxml=$(min_of 2 <"$tmp/lxml.txt")
lxml_thin=$(min_of 2 <"$tmp/lxml-thin.txt")
oscap_ms=$(awk '{ print $1 / 1000 }' "$tmp/oscap.txt" | min_of 1)

ratio() { awk -v x="$1" -v y="$2" 'BEGIN { r = x / y; printf (r >= 100 ? "%.0fx" : "%.1fx"), r }'; }
verdict() { awk -v x="$1" -v y="$2" -v t="$3" 'BEGIN { print (x / y >= t ? "met" : "MISSED") }'; }

echo
echo "XCCDF parse, u2204-cis_l1_server.results.xml.gz ($(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1e6 }') MB uncompressed)"
echo "best of $rounds round(s) x $iterations iterations (oscap: $rounds run(s)); load average $load_before before, $load_after after"
echo
printf '%-50s %10s %14s %8s %7s\n' "" "best ms" "lxml/rampart" "target" ""
printf '%-50s %10s %14s %8s %7s\n' "rampart a: first upload (rule texts + results)" "$a" "$(ratio "$lxml" "$a")" ">= 4x" "$(verdict "$lxml" "$a" 4)"
printf '%-50s %10s %14s %8s %7s\n' "rampart b: known version (results only)" "$b" "$(ratio "$lxml" "$b")" ">= 10x" "$(verdict "$lxml" "$b" 10)"
printf '%-50s %10s %14s %8s %7s\n' "rampart c: thin upload (TestResult only, 0.2 MB)" "$c" "$(ratio "$lxml" "$c")" ">= 100x" "$(verdict "$lxml" "$c" 100)"
printf '%-50s %10s\n' "lxml: DOM parse + extraction, whole file" "$lxml"
printf '%-50s %10s\n' "lxml: DOM parse alone (etree.parse), whole file" "$lxml_tree"
printf '%-50s %10s\n' "lxml: DOM parse + extraction, thin file" "$lxml_thin"
printf '%-50s %10s\n' "oscap xccdf generate report (whole process)" "$oscap_ms"
echo
echo "oscap/rampart: $(ratio "$oscap_ms" "$a") (a), $(ratio "$oscap_ms" "$b") (b)"
echo "stricter, against lxml's tree build alone: $(ratio "$lxml_tree" "$a") (a), $(ratio "$lxml_tree" "$b") (b), $(ratio "$lxml_tree" "$c") (c)"
echo "like for like on the thin file: lxml/rampart $(ratio "$lxml_thin" "$c")"
