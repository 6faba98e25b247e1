#!/usr/bin/env python3
"""The peers' way of reading an OpenSCAP results file, for bench/parse-compare.sh.

A DOM parse of the whole file with lxml (libxml2), then the data rampart's parser extracts:
for each XCCDF 1.2 Rule its id, severity, title, description and rationale as text, idents and
references; for the TestResult its id, target, start and end times, profile, and each
rule-result's idref, result and severity. Runs ITERATIONS times in this one process (after one
warm-up) and prints one line per iteration: `parse_ms total_ms rules rule_results`, where
parse_ms is `etree.parse` alone (building the tree) and total_ms adds the extraction.

usage: lxml_parse.py FILE [ITERATIONS]
"""

import sys
import time

from lxml import etree

NS = "{http://checklists.nist.gov/xccdf/1.2}"
XCCDF = {"x": NS[1:-1]}


def text_of(element):
    """All text inside an element, markup dropped, white space collapsed, as rampart's parser
    gives it; `itertext` only where there is markup (it costs 2-3x `.text` per element)."""
    if element is None:
        return ""
    if len(element) == 0:
        return " ".join((element.text or "").split())
    return " ".join("".join(element.itertext()).split())


def extract(path):
    """The tree's build time, and what rampart's parser extracts."""
    start = time.perf_counter()
    tree = etree.parse(path)
    parsed = time.perf_counter() - start
    root = tree.getroot()
    rules = []
    for rule in root.iter(NS + "Rule"):
        rules.append(
            {
                "id": rule.get("id"),
                "severity": rule.get("severity"),
                "title": text_of(rule.find(NS + "title")),
                "description": text_of(rule.find(NS + "description")),
                "rationale": text_of(rule.find(NS + "rationale")),
                "idents": [
                    (ident.get("system"), (ident.text or "").strip())
                    for ident in rule.findall(NS + "ident")
                ],
                "references": [
                    (reference.get("href"), text_of(reference))
                    for reference in rule.findall(NS + "reference")
                ],
            }
        )
    results = []
    test_result = next(root.iter(NS + "TestResult"))
    profile = test_result.find(NS + "profile")
    header = {
        "id": test_result.get("id"),
        "start": test_result.get("start-time"),
        "end": test_result.get("end-time"),
        "target": test_result.findtext(NS + "target"),
        "profile": profile.get("idref") if profile is not None else None,
    }
    for rule_result in test_result.iter(NS + "rule-result"):
        results.append(
            (
                rule_result.get("idref"),
                rule_result.findtext(NS + "result"),
                rule_result.get("severity"),
            )
        )
    return parsed, header, rules, results


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) == 3 else 10
    extract(path)  # warm-up: the file in the page cache, the modules loaded
    for _ in range(iterations):
        start = time.perf_counter()
        parsed, header, rules, results = extract(path)
        elapsed = time.perf_counter() - start
        assert header["target"] and results, "no TestResult"
        print(
            f"{parsed * 1e3:.3f} {elapsed * 1e3:.3f} {len(rules)} {len(results)}",
            flush=True,
        )


if __name__ == "__main__":
    main()
