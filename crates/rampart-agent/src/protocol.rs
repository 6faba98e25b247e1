//! The messages of the agent protocol (`docs/agent-protocol.md`), as the agent sends and reads
//! them: registration, activities, outcomes, the server's reading of a results file.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The registration request; only `registration_key` and `hostname` are required.
#[derive(Clone, Serialize)]
pub struct Registration {
    /// Kept out of `Debug` output.
    pub registration_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub hostname: String,
    pub system_hostname: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_group: Option<String>,
}

impl fmt::Debug for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("registration_key", &"****")
            .field("account", &self.account)
            .field("hostname", &self.hostname)
            .field("system_hostname", &self.system_hostname)
            .field("tags", &self.tags)
            .field("access_group", &self.access_group)
            .finish()
    }
}

/// The answer to a registration.
#[derive(Clone, Deserialize)]
pub struct Registered {
    pub computer_id: i64,
    /// Kept out of `Debug` output.
    pub secret: String,
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registered")
            .field("computer_id", &self.computer_id)
            .field("secret", &"****")
            .finish()
    }
}

/// The answer of `GET /agent/v1/me`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Me {
    pub computer_id: i64,
    pub hostname: String,
    pub account_id: i64,
}

/// What an activity asks the agent to do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(from = "String")]
pub enum Action {
    Audit,
    Fix,
    /// The fix, then the audit.
    FixAudit,
    Restart,
    /// An action this agent does not know; the activity is reported failed.
    Unknown(String),
}

impl From<String> for Action {
    fn from(word: String) -> Self {
        match word.as_str() {
            "audit" => Self::Audit,
            "fix" => Self::Fix,
            "fix-audit" => Self::FixAudit,
            "restart" => Self::Restart,
            _ => Self::Unknown(word),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Audit => "audit",
            Self::Fix => "fix",
            Self::FixAudit => "fix-audit",
            Self::Restart => "restart",
            Self::Unknown(word) => word,
        })
    }
}

/// One activity waiting for this machine.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Activity {
    pub id: i64,
    /// `UsgActivity` or `RestartRequest`.
    #[serde(rename = "type")]
    pub kind: String,
    pub action: Action,
    /// The name `usg` takes, possibly with a version (`cis_level1_server-v2.0.0`).
    #[serde(default)]
    pub benchmark: Option<String>,
    /// The profile id `oscap` takes.
    #[serde(default)]
    pub xccdf_profile: Option<String>,
    /// The tailoring file's XML text, when the profile has one.
    #[serde(default)]
    pub tailoring_file: Option<String>,
}

/// One item of the activity list: an activity, or one this agent cannot read (a field of a type
/// it does not expect), which it answers `failed` rather than letting it block the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Polled {
    Activity(Activity),
    Unreadable { id: i64, reason: String },
}

/// A benchmark version whose rule texts the server holds: for its results, the `TestResult`
/// alone is enough (a thin upload).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
pub struct KnownVersion {
    pub benchmark_id: String,
    pub version: String,
}

/// The answer to a poll.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Poll {
    pub activities: Vec<Polled>,
    /// The benchmark versions the server holds; only told along with activities (empty
    /// otherwise, which does not mean the server forgot them).
    pub known_versions: Vec<KnownVersion>,
}

#[derive(Deserialize)]
pub(crate) struct ActivityList {
    activities: Vec<serde_json::Value>,
    /// Read leniently: a server that sends none, or entries of another shape, only costs whole
    /// uploads.
    #[serde(default)]
    known_versions: serde_json::Value,
}

impl ActivityList {
    /// The items, each read on its own (an item without even an id is logged and skipped: there
    /// is nothing to answer it by), and the known versions.
    pub(crate) fn into_poll(self) -> Poll {
        let mut items = Vec::new();
        for item in self.activities {
            let id = item.get("id").and_then(serde_json::Value::as_i64);
            match (serde_json::from_value::<Activity>(item.clone()), id) {
                (Ok(activity), _) => items.push(Polled::Activity(activity)),
                (Err(e), Some(id)) => items.push(Polled::Unreadable {
                    id,
                    reason: e.to_string(),
                }),
                (Err(e), None) => tracing::warn!("skipping an activity without id: {e}: {item}"),
            }
        }
        let known_versions = match self.known_versions {
            serde_json::Value::Array(entries) => entries
                .into_iter()
                .filter_map(|entry| serde_json::from_value(entry).ok())
                .collect(),
            _ => Vec::new(),
        };
        Poll {
            activities: items,
            known_versions,
        }
    }
}

/// The server's reading of an uploaded results file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UploadAnswer {
    pub passing_rules: Option<i64>,
    pub failing_rules: Option<i64>,
    pub other_rules: Option<i64>,
    pub verdict: Option<String>,
}

/// How an activity ended, as `POST …/outcome` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Succeeded,
    Failed,
}

/// The body of `POST /agent/v1/activities/<id>/outcome`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: Status,
    pub message: String,
}

impl Outcome {
    pub fn succeeded(message: impl Into<String>) -> Self {
        Self {
            status: Status::Succeeded,
            message: message.into(),
        }
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self {
            status: Status::Failed,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activities_parse_as_the_protocol_writes_them() {
        let list: ActivityList = serde_json::from_str(
            r#"{"activities": [
              {"id": 12, "type": "UsgActivity", "action": "audit",
               "benchmark": "cis_level1_server",
               "xccdf_profile": "xccdf_org.ssgproject.content_profile_cis_level1_server",
               "tailoring_file": null},
              {"id": 13, "type": "RestartRequest", "action": "restart"},
              {"id": 14, "type": "UsgActivity", "action": "fix-audit", "benchmark": "b",
               "future_field": 1},
              {"id": 15, "type": "UsgActivity", "action": "dance"}
            ]}"#,
        )
        .unwrap();
        let poll = list.into_poll();
        assert_eq!(poll.known_versions, []);
        let activities: Vec<Activity> = poll
            .activities
            .into_iter()
            .map(|item| match item {
                Polled::Activity(activity) => activity,
                other => panic!("{other:?}"),
            })
            .collect();
        let actions: Vec<_> = activities.iter().map(|a| a.action.clone()).collect();
        assert_eq!(
            actions,
            [
                Action::Audit,
                Action::Restart,
                Action::FixAudit,
                Action::Unknown("dance".into())
            ]
        );
        assert_eq!(activities[0].kind, "UsgActivity");
        assert_eq!(activities[0].tailoring_file, None);
        assert_eq!(activities[1].benchmark, None);
    }

    #[test]
    fn an_activity_of_an_unexpected_shape_does_not_hide_the_others() {
        let list: ActivityList = serde_json::from_str(
            r#"{"activities": [
              {"id": 20, "type": "UsgActivity", "action": "audit",
               "tailoring_file": {"name": "t.xml"}},
              {"type": "UsgActivity"},
              {"id": 21, "type": "UsgActivity", "action": "audit", "benchmark": "b"}
            ]}"#,
        )
        .unwrap();
        let items = list.into_poll().activities;
        assert_eq!(items.len(), 2);
        assert!(
            matches!(&items[0], Polled::Unreadable { id: 20, reason } if reason.contains("string")),
            "{items:?}"
        );
        assert!(matches!(&items[1], Polled::Activity(a) if a.id == 21));
    }

    #[test]
    fn known_versions_come_with_the_activities_and_odd_entries_are_skipped() {
        let list: ActivityList = serde_json::from_str(
            r#"{"activities": [{"id": 12, "type": "UsgActivity", "action": "audit"}],
                "known_versions": [
                  {"benchmark_id": "xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04",
                   "version": "0.1.65"},
                  {"benchmark_id": 7},
                  {"benchmark_id": "xccdf_b", "version": "2", "since": "later"}
                ]}"#,
        )
        .unwrap();
        let poll = list.into_poll();
        assert_eq!(poll.activities.len(), 1);
        let known = |id: &str, version: &str| KnownVersion {
            benchmark_id: id.into(),
            version: version.into(),
        };
        assert_eq!(
            poll.known_versions,
            [
                known(
                    "xccdf_org.ssgproject.content_benchmark_UBUNTU_22-04",
                    "0.1.65"
                ),
                known("xccdf_b", "2")
            ]
        );
        let list: ActivityList =
            serde_json::from_str(r#"{"activities": [], "known_versions": null}"#).unwrap();
        assert_eq!(list.into_poll(), Poll::default());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let registration = Registration {
            registration_key: "k3y-k3y-k3y-k3y".into(),
            account: None,
            hostname: "web-01".into(),
            system_hostname: "web-01".into(),
            tags: vec![],
            access_group: None,
        };
        assert!(!format!("{registration:?}").contains("k3y"));
        let registered: Registered =
            serde_json::from_str(r#"{"computer_id": 7, "secret": "5ecret"}"#).unwrap();
        assert!(!format!("{registered:?}").contains("5ecret"));
    }

    #[test]
    fn outcomes_serialize_as_the_protocol_expects() {
        assert_eq!(
            serde_json::to_value(Outcome::failed("no tool")).unwrap(),
            serde_json::json!({"status": "failed", "message": "no tool"})
        );
    }
}
