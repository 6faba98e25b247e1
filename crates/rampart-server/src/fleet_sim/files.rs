//! The results files simulated machines upload. Each file is read once and kept as two templates:
//! the whole file, and its `TestResult` alone as the agent's own [`rampart_agent::thin::cut`]
//! gives it. In each, the bytes that change from one upload to the next are located once: every
//! timestamp (moved at each upload so that the scan seems to have just ended: the server refuses
//! results from before the activity was handed out) and every `pass`/`fail` result word (each
//! machine flips its own seed-chosen share of them). An upload is the template with those bytes
//! patched, gzip-compressed.
//!
//! What never changes (for a whole file, the Benchmark before the `TestResult`: 97 % of it) is
//! compressed once, as a gzip member of its own; an upload is that member followed by the
//! changing part's (gzip readers, the server's and the agent's included, read concatenated
//! members as one stream). The changing part is compressed at the fastest level: the simulator
//! shares its machine with the server it measures, whereas a real agent spends its own CPU.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use flate2::write::GzEncoder;
use flate2::Compression;
use rampart_agent::protocol::KnownVersion;
use rampart_domain::xccdf::{self, RuleResult, RuleText, TestResultInfo};

/// The most a results file may expand to (real ones are 6–15 MB).
const MAX_XML_BYTES: u64 = 256 * 1024 * 1024;
/// How far before a result word its rule's `idref` may be looked for.
const IDREF_REACH: usize = 8 * 1024;
/// `YYYY-MM-DDTHH:MM:SS`: the part of a timestamp that is rewritten (a fraction or an offset
/// after it stays as it is: moving the local time moves the instant by as much).
const STAMP_LEN: usize = 19;
const STAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S";

/// One results file, ready to be uploaded by any machine.
#[derive(Debug)]
pub struct ResultsFile {
    pub path: PathBuf,
    /// `TestResult/target`: the machines uploading it register with it as their system host name.
    pub target: String,
    /// The benchmark id and version it audited: what the server's `known_versions` name.
    pub version: KnownVersion,
    /// `TestResult@end-time`: uploads move every timestamp by (now − this).
    end_time: DateTime<Utc>,
    whole: Template,
    thin: Template,
    /// How many `pass`/`fail` results the `TestResult` holds.
    pub flippable: usize,
}

/// Which rule results one machine flips: a share of them, chosen by (seed, machine, rule) alone,
/// so that a machine flips the same rules in a thin and in a whole upload, and in every run.
#[derive(Debug, Clone, Copy)]
pub struct Variation {
    pub seed: u64,
    pub machine: u64,
    /// 0.0 to 1.0.
    pub share: f64,
}

impl Variation {
    fn flips(&self, rule: u64) -> bool {
        let draw = mix(self.seed ^ mix(self.machine ^ mix(rule)));
        // The top 53 bits as a fraction in [0, 1).
        ((draw >> 11) as f64 / (1u64 << 53) as f64) < self.share
    }
}

/// SplitMix64's finaliser: a fixed, well-spread hash (the simulator's choices must not change
/// with a library's version).
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a of a rule id.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A document with the places that change per upload located.
#[derive(Debug)]
struct Template {
    /// The gzip member of everything before `body` (empty when nothing precedes it).
    head: Vec<u8>,
    /// From the first changing byte to the last.
    body: Vec<u8>,
    /// The gzip member of everything after `body` (empty when nothing follows it).
    tail: Vec<u8>,
    /// Where timestamps start in `body`, with the index of their value in `stamps`.
    times: Vec<(usize, usize)>,
    /// The distinct timestamps of the document (few: OpenSCAP stamps rule results to the second).
    stamps: Vec<NaiveDateTime>,
    /// Where `pass`/`fail` words start in `body`, with a hash of their rule's id.
    words: Vec<(usize, u64)>,
}

impl Template {
    fn new(text: &[u8]) -> anyhow::Result<Self> {
        let mut times = Vec::new();
        let mut stamps: Vec<NaiveDateTime> = Vec::new();
        let mut words = Vec::new();
        for (at, found) in changing_places(text) {
            match found {
                Place::Time(stamp) => {
                    let index = match stamps.iter().position(|s| *s == stamp) {
                        Some(index) => index,
                        None => {
                            stamps.push(stamp);
                            stamps.len() - 1
                        }
                    };
                    times.push((at, index));
                }
                Place::Word(rule) => words.push((at, rule)),
            }
        }
        let start = times.first().map(|t| t.0).unwrap_or(usize::MAX);
        let start = start.min(words.first().map(|w| w.0).unwrap_or(usize::MAX));
        if start == usize::MAX {
            bail!("it holds no timestamp, so it cannot be made to look recent");
        }
        let end = times
            .iter()
            .map(|t| t.0 + STAMP_LEN)
            .chain(words.iter().map(|w| w.0 + 4))
            .max()
            .unwrap_or(start);
        for t in &mut times {
            t.0 -= start;
        }
        for w in &mut words {
            w.0 -= start;
        }
        Ok(Self {
            head: gzip_member(&text[..start], Compression::default())?,
            body: text[start..end].to_vec(),
            tail: gzip_member(&text[end..], Compression::default())?,
            times,
            stamps,
            words,
        })
    }

    /// The document for one upload, gzip-compressed: timestamps moved by `shift`, the result
    /// words `variation` picks flipped.
    fn render(&self, shift: TimeDelta, variation: &Variation) -> anyhow::Result<Vec<u8>> {
        let mut moved = Vec::with_capacity(self.stamps.len());
        for stamp in &self.stamps {
            let text = (*stamp + shift).format(STAMP_FORMAT).to_string();
            if text.len() != STAMP_LEN {
                bail!("a timestamp moved out of the years 0–9999: {text}");
            }
            moved.push(text);
        }
        let mut body = self.body.clone();
        for &(at, index) in &self.times {
            body[at..at + STAMP_LEN].copy_from_slice(moved[index].as_bytes());
        }
        for &(at, rule) in &self.words {
            if variation.flips(rule) {
                let flipped: &[u8] = if &body[at..at + 4] == b"pass" {
                    b"fail"
                } else {
                    b"pass"
                };
                body[at..at + 4].copy_from_slice(flipped);
            }
        }
        let changing = gzip_member(&body, Compression::fast())?;
        let mut upload = Vec::with_capacity(self.head.len() + changing.len() + self.tail.len());
        upload.extend_from_slice(&self.head);
        upload.extend_from_slice(&changing);
        upload.extend_from_slice(&self.tail);
        Ok(upload)
    }
}

/// `bytes` as one gzip member; nothing for no bytes.
fn gzip_member(bytes: &[u8], level: Compression) -> anyhow::Result<Vec<u8>> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let mut encoder = GzEncoder::new(Vec::with_capacity(bytes.len() / 8), level);
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// Something that changes per upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// A timestamp, `YYYY-MM-DDTHH:MM:SS`.
    Time(NaiveDateTime),
    /// `pass` or `fail` as the text of a `result` element (any prefix), with a hash of the id of
    /// the rule it belongs to (the nearest `idref` before it; its ordinal when there is none).
    Word(u64),
}

/// Every timestamp and result word of `text`, in order, by where they start.
fn changing_places(text: &[u8]) -> Vec<(usize, Place)> {
    let mut found = Vec::new();
    let mut ordinal = 0u64;
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'T' if i >= 10 && i + 9 <= text.len() => {
                if let Some(stamp) = timestamp(&text[i - 10..i + 9]) {
                    found.push((i - 10, Place::Time(stamp)));
                    i += 9;
                    continue;
                }
            }
            // `…result>pass</` or `…result>fail</`, where `result` is a whole local name.
            b'>' if i >= 7
                && &text[i - 6..i] == b"result"
                && matches!(text[i - 7], b'<' | b':')
                && text.len() >= i + 7
                && matches!(&text[i + 1..i + 5], b"pass" | b"fail")
                && &text[i + 5..i + 7] == b"</" =>
            {
                ordinal += 1;
                let rule = rule_id_before(text, i).map_or(ordinal, fnv1a);
                found.push((i + 1, Place::Word(rule)));
                i += 5;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// `candidate` read as `YYYY-MM-DDTHH:MM:SS`, when it is one.
fn timestamp(candidate: &[u8]) -> Option<NaiveDateTime> {
    let shape = candidate.iter().enumerate().all(|(i, &b)| match i {
        4 | 7 => b == b'-',
        10 => b == b'T',
        13 | 16 => b == b':',
        _ => b.is_ascii_digit(),
    });
    if !shape {
        return None;
    }
    let text = std::str::from_utf8(candidate).ok()?;
    NaiveDateTime::parse_from_str(text, STAMP_FORMAT).ok()
}

/// The value of the nearest `idref="…"` before `at` (within [`IDREF_REACH`] bytes).
fn rule_id_before(text: &[u8], at: usize) -> Option<&[u8]> {
    let from = at.saturating_sub(IDREF_REACH);
    let window = &text[from..at];
    let key = b"idref=\"";
    let start = window.windows(key.len()).rposition(|w| w == key)? + key.len();
    let length = window[start..].iter().position(|&b| b == b'"')?;
    Some(&window[start..start + length])
}

/// Captures the `TestResult`'s fields; the rest is not needed.
#[derive(Default)]
struct TestResultOnly(Option<TestResultInfo>);

impl xccdf::Visitor for TestResultOnly {
    fn benchmark(&mut self, _id: &str, _version: &str) -> bool {
        false
    }
    fn rule(&mut self, _rule: RuleText) {}
    fn test_result(&mut self, info: &TestResultInfo) {
        self.0.get_or_insert_with(|| info.clone());
    }
    fn rule_result(&mut self, _result: RuleResult) {}
}

impl ResultsFile {
    /// Reads and prepares `path` (XCCDF 1.2 results or ARF, gzip-compressed or not): CPU work
    /// on a few MB, to be run off the async threads.
    pub fn prepare(path: &Path) -> anyhow::Result<Self> {
        let prepared = (|| {
            let raw = std::fs::read(path)?;
            let mut xml = Vec::new();
            xccdf::open_maybe_gzip(&raw[..], MAX_XML_BYTES)
                .read_to_end(&mut xml)
                .context("it is not a readable results file")?;
            let thin = rampart_agent::thin::cut(&xml)?;
            let mut capture = TestResultOnly::default();
            xccdf::parse_bytes(&thin.document, &mut capture)
                .context("its TestResult cannot be read")?;
            let info = capture.0.context("it holds no TestResult")?;
            if info.target.is_empty() {
                bail!("its TestResult names no target machine");
            }
            let whole = Template::new(&xml)?;
            let thin_template = Template::new(&thin.document)?;
            Ok(Self {
                path: path.to_owned(),
                target: info.target,
                version: KnownVersion {
                    benchmark_id: thin.benchmark_id,
                    version: thin.version,
                },
                end_time: info.end_time,
                flippable: thin_template.words.len(),
                whole,
                thin: thin_template,
            })
        })();
        prepared.with_context(|| format!("cannot use {}", path.display()))
    }

    /// The whole file as one machine uploads it at `now`, gzip-compressed.
    pub fn whole(&self, now: DateTime<Utc>, variation: &Variation) -> anyhow::Result<Vec<u8>> {
        self.whole.render(self.shift(now), variation)
    }

    /// Its `TestResult` alone (a thin upload) as one machine uploads it at `now`.
    pub fn thin(&self, now: DateTime<Utc>, variation: &Variation) -> anyhow::Result<Vec<u8>> {
        self.thin.render(self.shift(now), variation)
    }

    /// What moves the scan's end to `now`, in whole seconds.
    fn shift(&self, now: DateTime<Utc>) -> TimeDelta {
        TimeDelta::seconds((now - self.end_time).num_seconds())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/xccdf");
        let dir = if beside.is_dir() {
            beside
        } else {
            PathBuf::from("/work/shared/fixtures/xccdf")
        };
        dir.join(name)
    }

    fn text(gz: &[u8]) -> String {
        let mut out = String::new();
        flate2::read::MultiGzDecoder::new(gz)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    const SMALL: &str = r#"<?xml version="1.0"?>
<Benchmark xmlns="http://checklists.nist.gov/xccdf/1.2" id="b">
<TestResult start-time="2020-01-01T10:00:00+00:00" end-time="2020-01-01T10:01:00+00:00">
<rule-result idref="r1" time="2020-01-01T10:00:30+00:00"><result>pass</result></rule-result>
<rule-result idref="r2" time="2020-01-01T10:00:30+00:00"><xccdf:result>fail</xccdf:result></rule-result>
<rule-result idref="r3"><result>notapplicable</result></rule-result>
<title>passed: not a result</title>
</TestResult></Benchmark>"#;

    #[test]
    fn timestamps_and_result_words_are_found_with_their_rules() {
        let places = changing_places(SMALL.as_bytes());
        let words: Vec<_> = places
            .iter()
            .filter_map(|(at, p)| match p {
                Place::Word(rule) => Some((&SMALL[*at..*at + 4], *rule)),
                _ => None,
            })
            .collect();
        assert_eq!(
            words,
            [("pass", fnv1a(b"r1")), ("fail", fnv1a(b"r2"))],
            "notapplicable and other texts are left alone"
        );
        let times = places
            .iter()
            .filter(|(_, p)| matches!(p, Place::Time(_)))
            .count();
        assert_eq!(times, 4);
    }

    #[test]
    fn a_render_moves_every_timestamp_and_flips_only_pass_and_fail() {
        let template = Template::new(SMALL.as_bytes()).unwrap();
        assert_eq!(template.stamps.len(), 3, "distinct stamps are kept once");
        let all = Variation {
            seed: 1,
            machine: 1,
            share: 1.0,
        };
        let shift = TimeDelta::days(366);
        let out = text(&template.render(shift, &all).unwrap());
        assert!(!out.contains("2020-"), "{out}");
        assert!(
            out.contains(r#"end-time="2021-01-01T10:01:00+00:00""#),
            "{out}"
        );
        assert!(out.contains("<result>fail</result>"), "{out}");
        assert!(out.contains("<xccdf:result>pass</xccdf:result>"), "{out}");
        assert!(out.contains("<result>notapplicable</result>"));
        let none = Variation { share: 0.0, ..all };
        let same = text(&template.render(TimeDelta::zero(), &none).unwrap());
        assert_eq!(same, SMALL, "head, body and tail join up to the document");
    }

    #[test]
    fn flips_depend_on_the_seed_and_machine_alone_and_follow_the_share() {
        let v = |seed, machine| Variation {
            seed,
            machine,
            share: 0.05,
        };
        let picks = |v: Variation| (0..2000u64).filter(|r| v.flips(*r)).collect::<Vec<_>>();
        assert_eq!(picks(v(7, 3)), picks(v(7, 3)));
        assert_ne!(picks(v(7, 3)), picks(v(8, 3)));
        assert_ne!(picks(v(7, 3)), picks(v(7, 4)));
        let share = picks(v(7, 3)).len();
        assert!((60..140).contains(&share), "about 5 % of 2000: {share}");
    }

    #[test]
    fn a_real_file_gives_whole_and_thin_uploads_the_server_reads_alike() {
        let file = ResultsFile::prepare(&fixture("u2204-cis_l1_server.results.xml.gz")).unwrap();
        assert_eq!(file.target, "vm");
        assert_eq!(file.version.version, "0.1.65");
        assert_eq!(file.flippable, 83, "52 pass and 31 fail");
        let now = Utc::now();
        let variation = Variation {
            seed: 5,
            machine: 9,
            share: 0.2,
        };
        let whole = file.whole(now, &variation).unwrap();
        let thin = file.thin(now, &variation).unwrap();
        assert!(
            thin.len() * 10 < whole.len(),
            "{} vs {}",
            thin.len(),
            whole.len()
        );
        let read = |bytes: &[u8]| {
            let mut capture = TestResultOnly::default();
            let summary = xccdf::parse_bytes(bytes, &mut capture).unwrap();
            (summary.counts, capture.0.unwrap())
        };
        let (whole_counts, whole_info) = read(&whole);
        let (thin_counts, thin_info) = read(&thin);
        assert_eq!(whole_counts, thin_counts);
        assert_eq!(whole_info.end_time, thin_info.end_time);
        assert!((now - whole_info.end_time).num_seconds().abs() <= 1);
        let unflipped = Variation {
            share: 0.0,
            ..variation
        };
        let (plain, _) = read(&file.thin(now, &unflipped).unwrap());
        assert_ne!(plain, thin_counts);
    }
}
