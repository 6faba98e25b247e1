//! How fast the XCCDF parser reads a real OpenSCAP results file (BENCHMARKS.md, "Parser").
//!
//! A plain timing loop rather than criterion, to keep the build lean: each case runs a few
//! warm-up iterations, then N timed ones, and the table shows the best and the median in ms and
//! the best in MB/s of uncompressed XML. The input is the fixture
//! `u2204-cis_l1_server.results.xml.gz`, decompressed once into memory (7.5 MB):
//!
//! - a: the first upload of a benchmark version: rule texts and rule results kept;
//! - b: a known version: the Benchmark's rules skipped, rule results kept;
//! - c: a thin upload, `u2204-cis_l1_server.testresult-only.xml` (≈200 KB);
//! - d: the gzip file as uploaded: decompression plus case a;
//! - s: case a read as a stream (`parse` over a reader), as the server reads uploads it keeps in
//!   a file (over 1 MiB).
//!
//! a–d go through `parse_bytes`, as the server parses an upload it holds in memory.
//!
//! Reference rows (not targets) show what the parser is built on, over the same bytes: gzip
//! decompression alone (x1); quick-xml's namespace-resolving `NsReader` copying every event into
//! a buffer (x2, x4: the thin file) — how the parser read before it resolved namespaces itself;
//! and quick-xml's plain `Reader` borrowing every event from the slice (x3), the floor of any
//! parser built on quick-xml.
//!
//! ```text
//! cargo bench -p rampart-domain --bench parse                      # 30 iterations
//! cargo bench -p rampart-domain --bench parse -- --quick           # 3 iterations, for CI
//! cargo bench -p rampart-domain --bench parse -- --iterations 100
//! cargo bench -p rampart-domain --bench parse -- --machine --cases a,b,c
//! ```
//!
//! `RAMPART_BENCH_ITERATIONS` sets the iteration count too; `RAMPART_FIXTURES` names the fixtures
//! folder (default: `<repo>/../shared/fixtures`, else `/work/shared/fixtures`). `--machine`
//! prints one tab-separated line per case (`case best_ms median_ms bytes`) for
//! `bench/parse-compare.sh`.
#![forbid(unsafe_code)]

use std::hint::black_box;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rampart_domain::xccdf::{
    open_maybe_gzip, parse, parse_bytes, RuleResult, RuleText, Summary, TestResultInfo, Visitor,
    DEFAULT_MAX_BYTES,
};

const RESULTS_GZ: &str = "u2204-cis_l1_server.results.xml.gz";
const THIN: &str = "u2204-cis_l1_server.testresult-only.xml";
/// From `shared/fixtures/README.md`: what every case must find, so no case times a failed parse.
const RULE_RESULTS: usize = 592;

const ALL_CASES: [&str; 9] = ["a", "b", "c", "d", "s", "x1", "x2", "x3", "x4"];
const USAGE: &str =
    "usage: parse [--quick] [--iterations N] [--warmup N] [--machine] [--cases a,b,c,d,s,x1,...,x4]";

/// Keeps what the server keeps of an upload: the rule texts when asked for, the TestResult's
/// header, every rule result.
struct Keep {
    wants_rules: bool,
    rules: Vec<RuleText>,
    info: Option<TestResultInfo>,
    results: Vec<RuleResult>,
}

impl Keep {
    fn new(wants_rules: bool) -> Self {
        Keep {
            wants_rules,
            rules: Vec::new(),
            info: None,
            results: Vec::new(),
        }
    }

    /// Checks the parse found everything, so that a broken parser cannot look fast.
    fn check(&self, summary: &Summary, thin: bool) {
        assert_eq!(summary.counts.total(), RULE_RESULTS);
        assert_eq!(self.results.len(), RULE_RESULTS);
        assert!(self.info.is_some(), "no TestResult");
        assert_eq!(summary.had_benchmark, !thin);
        if self.wants_rules {
            assert!(!self.rules.is_empty());
            assert_eq!(self.rules.len(), summary.rules_seen);
        } else {
            assert!(self.rules.is_empty());
        }
    }
}

impl Visitor for Keep {
    fn benchmark(&mut self, _id: &str, _version: &str) -> bool {
        self.wants_rules
    }

    fn rule(&mut self, rule: RuleText) {
        self.rules.push(rule);
    }

    fn test_result(&mut self, info: &TestResultInfo) {
        self.info = Some(info.clone());
    }

    fn rule_result(&mut self, result: RuleResult) {
        self.results.push(result);
    }
}

struct Options {
    iterations: usize,
    warmup: usize,
    machine: bool,
    cases: Vec<String>,
}

impl Options {
    fn from_args() -> Result<Options, String> {
        let mut options = Options {
            iterations: match std::env::var("RAMPART_BENCH_ITERATIONS") {
                Ok(value) => positive("RAMPART_BENCH_ITERATIONS", &value)?,
                Err(_) => 30,
            },
            warmup: 3,
            machine: false,
            cases: ALL_CASES.map(String::from).to_vec(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                // cargo passes `--bench` to every bench binary.
                "--bench" => {}
                "--quick" => {
                    options.iterations = 3;
                    options.warmup = 1;
                }
                "--iterations" => options.iterations = positive(&arg, &value(&arg)?)?,
                "--warmup" => {
                    let warmup = value(&arg)?;
                    options.warmup = warmup
                        .parse()
                        .map_err(|_| format!("--warmup: `{warmup}` is not a number"))?;
                }
                "--machine" => options.machine = true,
                "--cases" => {
                    options.cases = value(&arg)?.split(',').map(str::to_owned).collect();
                    if let Some(unknown) = options
                        .cases
                        .iter()
                        .find(|case| !ALL_CASES.contains(&case.as_str()))
                    {
                        return Err(format!("unknown case `{unknown}`\n{USAGE}"));
                    }
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            }
        }
        Ok(options)
    }

    fn wants(&self, case: &str) -> bool {
        self.cases.iter().any(|wanted| wanted == case)
    }
}

fn positive(name: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{name}: `{value}` is not a positive number")),
    }
}

/// `shared/fixtures` beside the repository (`<repo>/../shared`), else where the workspace has it.
fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("RAMPART_FIXTURES") {
        return PathBuf::from(dir);
    }
    let beside = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures"
    ));
    if beside.is_dir() {
        return beside;
    }
    PathBuf::from("/work/shared/fixtures")
}

fn fixture(file: &str) -> Vec<u8> {
    let path = fixtures_dir().join("xccdf").join(file);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

fn gunzip(gz: &[u8]) -> Vec<u8> {
    let mut xml = Vec::new();
    open_maybe_gzip(gz, DEFAULT_MAX_BYTES)
        .read_to_end(&mut xml)
        .expect("the fixture decompresses");
    xml
}

/// One case's timings.
struct Timing {
    best: Duration,
    median: Duration,
}

fn measure(options: &Options, mut run: impl FnMut()) -> Timing {
    for _ in 0..options.warmup {
        run();
    }
    let mut times: Vec<Duration> = (0..options.iterations)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    Timing {
        best: times[0],
        median: times[times.len() / 2],
    }
}

/// A parse of `xml` keeping what `Keep` keeps: in memory as `parse_bytes` reads an upload the
/// server holds in memory, or `streamed` as `parse` reads one from a file.
fn parse_kept(xml: &[u8], wants_rules: bool, thin: bool, streamed: bool) {
    let mut keep = Keep::new(wants_rules);
    let summary = match streamed {
        false => parse_bytes(black_box(xml), &mut keep),
        true => parse(black_box(xml), &mut keep),
    }
    .expect("the fixture parses");
    keep.check(&summary, thin);
    black_box((summary, keep));
}

/// Every event of `xml`, namespaces resolved as the parser needs them, nothing kept.
fn quick_xml_ns_events(xml: &[u8]) -> usize {
    let mut reader = quick_xml::NsReader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut buf = Vec::with_capacity(64 * 1024);
    let mut events = 0usize;
    loop {
        buf.clear();
        match reader.read_resolved_event_into(&mut buf) {
            Ok((_, quick_xml::events::Event::Eof)) => return events,
            Ok((resolved, event)) => {
                black_box((resolved, event));
                events += 1;
            }
            Err(error) => panic!("quick-xml: {error}"),
        }
    }
}

/// Every event of `xml` borrowed from the slice: no namespaces, no copy into a buffer.
fn quick_xml_events(xml: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().trim_text(false);
    let mut events = 0usize;
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => return events,
            Ok(event) => {
                black_box(event);
                events += 1;
            }
            Err(error) => panic!("quick-xml: {error}"),
        }
    }
}

struct Row {
    case: &'static str,
    what: &'static str,
    bytes: usize,
    timing: Timing,
}

fn main() -> ExitCode {
    let options = match Options::from_args() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let gz = fixture(RESULTS_GZ);
    let xml = gunzip(&gz);
    let thin = fixture(THIN);

    let mut rows = Vec::new();
    let mut run = |case: &'static str, what: &'static str, bytes: usize, f: &dyn Fn()| {
        if options.wants(case) {
            let timing = measure(&options, f);
            rows.push(Row {
                case,
                what,
                bytes,
                timing,
            });
        }
    };
    run(
        "a",
        "first upload: rule texts + results",
        xml.len(),
        &|| parse_kept(&xml, true, false, false),
    );
    run("b", "known version: results only", xml.len(), &|| {
        parse_kept(&xml, false, false, false)
    });
    run("c", "thin upload: TestResult only", thin.len(), &|| {
        parse_kept(&thin, false, true, false)
    });
    run("s", "streamed: case a from a reader", xml.len(), &|| {
        parse_kept(&xml, true, false, true)
    });
    run("d", "gzip upload: gunzip + case a", xml.len(), &|| {
        let mut keep = Keep::new(true);
        let summary = parse_bytes(black_box(&gz), &mut keep).expect("the fixture parses");
        keep.check(&summary, false);
        black_box((summary, keep));
    });
    run("x1", "reference: gunzip alone", xml.len(), &|| {
        black_box(gunzip(black_box(&gz)));
    });
    run(
        "x2",
        "reference: quick-xml NsReader events",
        xml.len(),
        &|| {
            black_box(quick_xml_ns_events(black_box(&xml)));
        },
    );
    run(
        "x3",
        "reference: quick-xml Reader events",
        xml.len(),
        &|| {
            black_box(quick_xml_events(black_box(&xml)));
        },
    );
    run(
        "x4",
        "reference: NsReader events, thin file",
        thin.len(),
        &|| {
            black_box(quick_xml_ns_events(black_box(&thin)));
        },
    );

    if options.machine {
        for row in &rows {
            println!(
                "{}\t{:.3}\t{:.3}\t{}",
                row.case,
                ms(row.timing.best),
                ms(row.timing.median),
                row.bytes
            );
        }
    } else {
        print_table(&options, &rows);
    }
    ExitCode::SUCCESS
}

fn print_table(options: &Options, rows: &[Row]) {
    println!(
        "XCCDF parser, {RESULTS_GZ} ({} warm-up + {} timed iterations each)",
        options.warmup, options.iterations
    );
    println!(
        "{:<3} {:<38} {:>9} {:>9} {:>10} {:>9}",
        "", "case", "input MB", "best ms", "median ms", "MB/s"
    );
    for row in rows {
        let megabytes = row.bytes as f64 / 1e6;
        println!(
            "{:<3} {:<38} {:>9.2} {:>9.2} {:>10.2} {:>9.0}",
            row.case,
            row.what,
            megabytes,
            ms(row.timing.best),
            ms(row.timing.median),
            megabytes / row.timing.best.as_secs_f64()
        );
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
