//! The parts of a security profile that come from users, each a type that can only hold a valid
//! value: `Benchmark`, `Mode`, `Title`, `ProfileName`, `Tags`, `Status`, and the bounded numbers.

use std::fmt;

/// The benchmarks `usg` knows, without a version suffix.
pub const BENCHMARKS: [&str; 6] = [
    "cis_level1_server",
    "cis_level1_workstation",
    "cis_level2_server",
    "cis_level2_workstation",
    "disa_stig",
    "stig",
];

/// A benchmark name as `usg` takes it: one of [`BENCHMARKS`], optionally versioned
/// (`cis_level1_server-v2.0.0`, `stig-v1r3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Benchmark(String);

impl Benchmark {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (base, version) = match text.split_once("-v") {
            Some((base, version)) => (base, Some(version)),
            None => (text, None),
        };
        let version_ok = version.is_none_or(|v| {
            v.len() <= 32
                && v.starts_with(|c: char| c.is_ascii_digit())
                && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        });
        if BENCHMARKS.contains(&base) && version_ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "`benchmark` must be one of {} (optionally versioned, such as cis_level1_server-v2.0.0 or stig-v1r3); got `{}`",
                BENCHMARKS.join(", "),
                shorten(text)
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the SCAP Security Guide profile: no version, and `disa_stig` is SSG's `stig`.
    pub fn ssg_name(&self) -> &str {
        let base = self.0.split("-v").next().unwrap_or(&self.0);
        if base == "disa_stig" {
            "stig"
        } else {
            base
        }
    }

    /// The XCCDF profile id `oscap` takes for this benchmark.
    pub fn xccdf_profile_id(&self) -> String {
        format!("xccdf_org.ssgproject.content_profile_{}", self.ssg_name())
    }
}

/// round-half-up(100 × passing / (passing + failing)); `None` when neither count is above 0.
/// Used for a profile's machines (`pass_rate`) and for one machine's rules (report `Pass Rate`).
pub fn pass_rate(passing: i64, failing: i64) -> Option<i64> {
    let finished = passing + failing;
    (finished > 0).then(|| (200 * passing + finished) / (2 * finished))
}

/// What a run does on each machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Audit,
    FixAudit,
    FixRestartAudit,
}

impl Mode {
    /// Also takes `audit-fix` and `audit-fix-restart`, the spellings a real web client sends.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "audit" => Ok(Self::Audit),
            "fix-audit" | "audit-fix" => Ok(Self::FixAudit),
            "fix-restart-audit" | "audit-fix-restart" => Ok(Self::FixRestartAudit),
            other => Err(format!(
                "`mode` must be one of audit, fix-audit, fix-restart-audit; got `{}`",
                shorten(other)
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Audit => "audit",
            Self::FixAudit => "fix-audit",
            Self::FixRestartAudit => "fix-restart-audit",
        }
    }
}

/// A profile's display name: trimmed, 1 to 255 characters, at least one visible, and none of
/// the control, bidirectional-override or non-characters that make a title read differently
/// from what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);

impl Title {
    pub fn parse(text: &str) -> Result<Self, String> {
        let title = text.trim();
        if title.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
            return Err("`title` must not be empty".into());
        }
        if title.chars().count() > 255 {
            return Err("`title` must be at most 255 characters".into());
        }
        if title.chars().any(|c| c.is_control() || is_deceptive(c)) {
            return Err(
                "`title` must not contain control, bidirectional-override or non-characters".into(),
            );
        }
        Ok(Self(title.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The profile's `name`: a slug of its title at creation, which never changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileName(String);

impl ProfileName {
    /// Lower-case ASCII letters and digits, every other run of characters becoming one `-`
    /// (accented Latin letters lose their accent first). A title with nothing to keep slugs to
    /// `profile`. At most 90 characters, leaving room for the `-N` that makes a taken name unique.
    pub fn from_title(title: &Title) -> Self {
        let mut slug = String::new();
        for c in title.as_str().chars().flat_map(char::to_lowercase) {
            match unaccent(c) {
                Some(kept) => slug.push_str(kept),
                None if c.is_ascii_alphanumeric() => slug.push(c),
                None if !slug.is_empty() && !slug.ends_with('-') => slug.push('-'),
                None => {}
            }
        }
        slug.truncate(90);
        let slug = slug.trim_end_matches('-');
        Self(if slug.is_empty() {
            "profile".into()
        } else {
            slug.into()
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that take no space on screen.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}')
}

/// Characters that change how the text around them reads, or are not characters at all.
fn is_deceptive(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        || (c as u32 & 0xfffe) == 0xfffe
        || ('\u{fdd0}'..='\u{fdef}').contains(&c)
}

fn unaccent(c: char) -> Option<&'static str> {
    Some(match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' => "a",
        'æ' => "ae",
        'ç' | 'č' | 'ć' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ě' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'ī' => "i",
        'ñ' | 'ń' | 'ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' => "o",
        'œ' => "oe",
        'ß' => "ss",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' => "u",
        'ý' | 'ÿ' => "y",
        'ž' | 'ź' | 'ż' => "z",
        'š' | 'ś' => "s",
        'ř' => "r",
        'ł' => "l",
        _ => return None,
    })
}

/// Machine tags a profile selects: each 1 to 64 of letters, digits, `-`, `_`, `.`; at most 100
/// tags; duplicates dropped, order kept.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse<S: AsRef<str>>(tags: &[S]) -> Result<Self, String> {
        let mut kept: Vec<String> = Vec::new();
        for tag in tags {
            let tag = tag.as_ref();
            let valid = (1..=64).contains(&tag.len())
                && tag
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !valid {
                return Err(format!(
                    "tag `{}` is not valid: a tag is 1 to 64 letters, digits, `-`, `_` or `.`",
                    shorten(tag)
                ));
            }
            if !kept.iter().any(|k| k == tag) {
                if kept.len() == 100 {
                    return Err("at most 100 different tags are allowed".into());
                }
                kept.push(tag.to_owned());
            }
        }
        Ok(Self(kept))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// Whether a profile still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Archived,
}

impl Status {
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "active" => Ok(Self::Active),
            "archived" => Ok(Self::Archived),
            other => Err(format!("unknown profile status `{}`", shorten(other))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Archived => "archived",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hours between the fix and the restart in `fix-restart-audit` mode: 0 to 720 (30 days).
pub const RESTART_DELAY_HOURS: std::ops::RangeInclusive<i64> = 0..=720;
/// Minutes over which restarts are spread at random: 0 to 10080 (one week).
pub const RESTART_WINDOW_MINUTES: std::ops::RangeInclusive<i64> = 0..=10_080;
/// Days a run's results are kept: 1 to 36500 (100 years).
pub const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 1..=36_500;

/// Checks that `value` of `field` lies in `range`, with a message naming both.
pub fn in_range(
    field: &str,
    value: i64,
    range: &std::ops::RangeInclusive<i64>,
) -> Result<i64, String> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(format!(
            "`{field}` must be between {} and {}; got {value}",
            range.start(),
            range.end()
        ))
    }
}

/// Echoes at most 64 characters of user input back in a message.
pub fn shorten(text: &str) -> String {
    let mut short: String = text.chars().take(64).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pass_rate_rounds_half_up_and_is_none_without_counts() {
        // The reference example: 15 passing, 94 failing (10 in progress do not count) → 14.
        assert_eq!(pass_rate(15, 94), Some(14));
        assert_eq!(pass_rate(1, 1), Some(50));
        assert_eq!(pass_rate(1, 7), Some(13), "12.5 rounds up");
        assert_eq!(pass_rate(1, 2), Some(33));
        assert_eq!(pass_rate(2, 1), Some(67));
        assert_eq!(pass_rate(25, 0), Some(100));
        assert_eq!(pass_rate(0, 56), Some(0));
        assert_eq!(pass_rate(0, 0), None);
    }

    #[test]
    fn a_benchmark_names_its_ssg_profile_without_version() {
        let profile = |b: &str| Benchmark::parse(b).unwrap().xccdf_profile_id();
        assert_eq!(
            profile("cis_level1_server-v2.0.0"),
            "xccdf_org.ssgproject.content_profile_cis_level1_server"
        );
        assert_eq!(
            profile("disa_stig"),
            "xccdf_org.ssgproject.content_profile_stig"
        );
        assert_eq!(
            profile("stig-v1r3"),
            "xccdf_org.ssgproject.content_profile_stig"
        );
    }

    fn slug(title: &str) -> String {
        ProfileName::from_title(&Title::parse(title).unwrap())
            .as_str()
            .to_owned()
    }

    #[test]
    fn slugs_are_lower_case_words_joined_by_dashes() {
        assert_eq!(
            slug("Macrodata Refinement Terminals"),
            "macrodata-refinement-terminals"
        );
        assert_eq!(slug("HAL 9000"), "hal-9000");
        assert_eq!(slug("  --Web  servers (prod)!! "), "web-servers-prod");
        assert_eq!(slug("CIS_L1 / DMZ"), "cis-l1-dmz");
        assert_eq!(slug("Ünïcödé Café"), "unicode-cafe");
        assert_eq!(slug("日本語"), "profile");
        assert_eq!(slug("!!!"), "profile");
        assert_eq!(slug(&"a".repeat(200)).len(), 90);
        assert_eq!(slug(&format!("{}  b", "a".repeat(89))), "a".repeat(89));
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  HAL 9000 ").unwrap().as_str(), "HAL 9000");
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse(&"x".repeat(256)).is_err());
        assert!(Title::parse(&"é".repeat(255)).is_ok());
        assert!(Title::parse("tab\there").is_err());
        for bad in [
            "\u{200b}",
            "\u{feff}",
            " \u{200b} ",
            "abc\u{202e}def",
            "a\u{ffff}b",
            "a\u{2066}b",
        ] {
            assert!(Title::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Title::parse("İstanbul ☕ 東京").is_ok());
    }

    #[test]
    fn known_benchmarks_and_their_versions_are_accepted() {
        for ok in [
            "cis_level1_server",
            "cis_level2_workstation",
            "disa_stig",
            "stig",
            "cis_level1_server-v2.0.0",
            "stig-v1r3",
        ] {
            assert_eq!(Benchmark::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn unknown_benchmarks_are_refused_with_the_valid_names() {
        for bad in [
            "",
            "cis",
            "CIS_LEVEL1_SERVER",
            "cis_level3_server",
            "stig-v",
            "stig-vx1",
            "stig-v1/../x",
        ] {
            let err = Benchmark::parse(bad).unwrap_err();
            assert!(
                err.contains("cis_level1_server, cis_level1_workstation"),
                "{err}"
            );
        }
    }

    #[test]
    fn modes_accept_both_spellings_and_answer_with_the_first() {
        assert_eq!(Mode::parse("audit"), Ok(Mode::Audit));
        assert_eq!(Mode::parse("audit-fix").unwrap().as_str(), "fix-audit");
        assert_eq!(
            Mode::parse("audit-fix-restart").unwrap().as_str(),
            "fix-restart-audit"
        );
        assert!(Mode::parse("fix").is_err());
        assert!(Mode::parse("AUDIT").is_err());
    }

    #[test]
    fn tags_are_checked_and_deduplicated_in_order() {
        let tags = Tags::parse(&["web", "db", "web", "a.b_c-1"]).unwrap();
        assert_eq!(tags.as_slice(), ["web", "db", "a.b_c-1"]);
        for bad in ["", "has space", "semi;colon", "ü", &"t".repeat(65)] {
            assert!(Tags::parse(&[bad]).is_err(), "{bad:?}");
        }
        assert_eq!(Tags::parse(&vec!["t"; 200]).unwrap().as_slice(), ["t"]);
        let many: Vec<String> = (0..101).map(|n| format!("t{n}")).collect();
        assert!(Tags::parse(&many).is_err());
    }

    #[test]
    fn numbers_out_of_range_name_the_field() {
        assert_eq!(
            in_range("restart_deliver_delay", 2, &RESTART_DELAY_HOURS),
            Ok(2)
        );
        let err = in_range("restart_deliver_delay", -1, &RESTART_DELAY_HOURS).unwrap_err();
        assert!(
            err.contains("restart_deliver_delay") && err.contains("-1"),
            "{err}"
        );
        assert!(in_range("retention_period", 0, &RETENTION_DAYS).is_err());
    }
}
