//! Carrying out one audit or fix on this machine: finding the tool (`usg` first, else `oscap`
//! with a data stream), building the exact command lines of `docs/agent-protocol.md`, and running
//! them with their files in a work folder under the state dir. Failures come back as the message
//! the server is told.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::protocol::Activity;

/// What the server is told when there is nothing to audit with.
pub const NO_TOOL: &str = "neither usg nor oscap with a data stream is available on this machine: \
                           install usg or pass --oscap-datastream";

/// Where `usg` is looked for when it is neither given nor on PATH.
const USG_FALLBACK: &str = "/usr/sbin/usg";

/// How much of a failing command's output the failure message quotes.
const TAIL_LINES: usize = 15;
const TAIL_BYTES: usize = 2000;

/// The tools as configured on the command line; found again for each activity, so a tool
/// installed while the agent runs is used.
#[derive(Debug, Clone, Default)]
pub struct Tools {
    /// `--usg`: only this path is tried when given.
    pub usg: Option<PathBuf>,
    /// `--oscap`: default `oscap` on PATH.
    pub oscap: Option<PathBuf>,
    /// `--oscap-datastream`: `oscap` is used only with one.
    pub datastream: Option<PathBuf>,
}

/// The tool an activity runs with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    Usg(PathBuf),
    Oscap { oscap: PathBuf, datastream: PathBuf },
}

impl Tools {
    /// `usg` when it is found (the path given, else `usg` on PATH, else /usr/sbin/usg);
    /// otherwise `oscap` with the data stream; otherwise [`NO_TOOL`].
    pub fn find(&self) -> Result<Tool, String> {
        let path_var = std::env::var_os("PATH").unwrap_or_default();
        self.find_with_path(&path_var)
    }

    /// [`Tools::find`] with the PATH value given (so tests need not change the environment).
    pub fn find_with_path(&self, path_var: &std::ffi::OsStr) -> Result<Tool, String> {
        let usg = match &self.usg {
            Some(given) => resolve(given, path_var),
            None => search(path_var, "usg").or_else(|| {
                let fallback = PathBuf::from(USG_FALLBACK);
                is_executable(&fallback).then_some(fallback)
            }),
        };
        if let Some(usg) = usg {
            return Ok(Tool::Usg(usg));
        }
        let Some(datastream) = &self.datastream else {
            return Err(NO_TOOL.into());
        };
        let oscap = match &self.oscap {
            Some(given) => resolve(given, path_var),
            None => search(path_var, "oscap"),
        };
        let Some(oscap) = oscap else {
            return Err(NO_TOOL.into());
        };
        if !datastream.is_file() {
            return Err(format!(
                "the data stream {} given with --oscap-datastream is not a file on this machine",
                datastream.display()
            ));
        }
        Ok(Tool::Oscap {
            oscap,
            datastream: datastream.clone(),
        })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A path given on the command line: a bare name is looked for on PATH, like a shell would.
fn resolve(given: &Path, path_var: &std::ffi::OsStr) -> Option<PathBuf> {
    if given.components().count() == 1 && !given.is_absolute() {
        search(path_var, &given.to_string_lossy())
    } else {
        is_executable(given).then(|| given.to_owned())
    }
}

/// The first executable `name` in the folders of `path_var`.
fn search(path_var: &std::ffi::OsStr, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path_var)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// `cis_level1_server-v2.0.0` → `cis_level1_server`: `oscap` knows profiles without versions.
pub fn strip_version(name: &str) -> &str {
    let bytes = name.as_bytes();
    let cut = (0..bytes.len().saturating_sub(2))
        .rev()
        .find(|&i| bytes[i] == b'-' && bytes[i + 1] == b'v' && bytes[i + 2].is_ascii_digit());
    match cut {
        Some(i) if i > 0 => &name[..i],
        _ => name,
    }
}

/// What the tool is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Audit,
    Fix,
}

/// A program and its arguments, exactly as it is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandLine {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Exit codes that mean the tool did its work.
    pub success: &'static [i32],
}

impl fmt::Display for CommandLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.display())?;
        for arg in &self.args {
            write!(f, " {}", arg.to_string_lossy())?;
        }
        Ok(())
    }
}

/// The files of one run.
#[derive(Debug, Clone)]
pub struct Files<'a> {
    pub tailoring: Option<&'a Path>,
    pub results: &'a Path,
}

/// The command line of `step` for `activity` with `tool`:
/// `usg <audit|fix> <benchmark> [--tailoring-file F] [--results-file R]` (the results file only
/// for an audit), or `oscap xccdf eval [--remediate] --profile <xccdf_profile>
/// [--tailoring-file F] --results R <data stream>`.
pub fn command_line(
    tool: &Tool,
    step: Step,
    activity: &Activity,
    files: &Files<'_>,
) -> Result<CommandLine, String> {
    let mut args: Vec<OsString> = Vec::new();
    match tool {
        Tool::Usg(usg) => {
            let benchmark = activity
                .benchmark
                .as_deref()
                .filter(|b| !b.is_empty())
                .ok_or_else(|| format!("activity {} names no benchmark for usg", activity.id))?;
            args.push(
                match step {
                    Step::Audit => "audit",
                    Step::Fix => "fix",
                }
                .into(),
            );
            args.push(benchmark.into());
            if let Some(tailoring) = files.tailoring {
                args.extend(["--tailoring-file".into(), tailoring.into()]);
            }
            if step == Step::Audit {
                args.extend(["--results-file".into(), files.results.into()]);
            }
            Ok(CommandLine {
                program: usg.clone(),
                args,
                success: &[0],
            })
        }
        Tool::Oscap { oscap, datastream } => {
            let profile = match (&activity.xccdf_profile, &activity.benchmark) {
                // A tailored profile's id is the tailoring file's own: passed as it is.
                (Some(profile), _) if !profile.is_empty() && activity.tailoring_file.is_some() => {
                    profile.clone()
                }
                (Some(profile), _) if !profile.is_empty() => strip_version(profile).to_owned(),
                (_, Some(benchmark)) if !benchmark.is_empty() => {
                    // As the server derives it: SSG names the DISA STIG profile `stig`.
                    let name = match strip_version(benchmark) {
                        "disa_stig" => "stig",
                        name => name,
                    };
                    format!("xccdf_org.ssgproject.content_profile_{name}")
                }
                _ => {
                    return Err(format!(
                        "activity {} names no XCCDF profile for oscap",
                        activity.id
                    ))
                }
            };
            args.extend(["xccdf".into(), "eval".into()]);
            if step == Step::Fix {
                args.push("--remediate".into());
            }
            args.extend(["--profile".into(), profile.into()]);
            if let Some(tailoring) = files.tailoring {
                args.extend(["--tailoring-file".into(), tailoring.into()]);
            }
            args.extend(["--results".into(), files.results.into(), datastream.into()]);
            // 2: the scan ran and some rules failed.
            Ok(CommandLine {
                program: oscap.clone(),
                args,
                success: &[0, 2],
            })
        }
    }
}

/// Runs `line` to its end; a failure is the message for the server, quoting the end of the
/// command's error output.
pub async fn run(line: &CommandLine) -> Result<(), String> {
    let mut command = tokio::process::Command::new(&line.program);
    command
        .args(&line.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Stopping the agent stops the scan; the activity is seen again at the next start.
        .kill_on_drop(true);
    let output = spawn(&mut command, line).await?.wait_with_output().await;
    let output = output.map_err(|e| format!("`{line}` could not be waited for: {e}"))?;
    let code = output.status.code();
    if code.is_some_and(|code| line.success.contains(&code)) {
        return Ok(());
    }
    let how = match code {
        Some(code) => format!("exited with code {code}"),
        None => {
            use std::os::unix::process::ExitStatusExt;
            format!(
                "was killed by signal {}",
                output.status.signal().unwrap_or_default()
            )
        }
    };
    let mut said = tail(&output.stderr);
    if said.is_empty() {
        said = tail(&output.stdout);
    }
    if said.is_empty() {
        Err(format!("`{line}` {how}"))
    } else {
        Err(format!("`{line}` {how}: {said}"))
    }
}

/// Spawns `command`, retrying briefly when the executable is busy: one just written (by a
/// package upgrade, or a test) can be held open for writing by a concurrent fork for a moment.
async fn spawn(
    command: &mut tokio::process::Command,
    line: &CommandLine,
) -> Result<tokio::process::Child, String> {
    const TEXT_FILE_BUSY: i32 = 26;
    let mut attempt = 0;
    loop {
        match command.spawn() {
            Ok(child) => return Ok(child),
            Err(e) if e.raw_os_error() == Some(TEXT_FILE_BUSY) && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            Err(e) => return Err(format!("cannot run {}: {e}", line.program.display())),
        }
    }
}

/// The last lines of `output`, trimmed to a readable size.
fn tail(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    if tail.len() > TAIL_BYTES {
        let mut start = tail.len() - TAIL_BYTES;
        while !tail.is_char_boundary(start) {
            start += 1;
        }
        tail = format!("…{}", &tail[start..]);
    }
    tail
}

/// Runs activities' audits and fixes, each in its own work folder under `work_root`.
#[derive(Debug, Clone)]
pub struct Runner {
    pub tools: Tools,
    pub work_root: PathBuf,
}

impl Runner {
    /// Runs the audit of `activity`; its results file's bytes, or the failure message.
    pub async fn audit(&self, activity: &Activity) -> Result<Vec<u8>, String> {
        let work = WorkDir::create(&self.work_root, activity)?;
        let line = command_line(&self.tools.find()?, Step::Audit, activity, &work.files())?;
        tracing::info!(activity = activity.id, "running {line}");
        run(&line).await?;
        match std::fs::read(&work.results) {
            Ok(bytes) if !bytes.is_empty() => Ok(bytes),
            Ok(_) => Err(format!("`{line}` wrote an empty results file")),
            Err(e) => Err(format!(
                "`{line}` finished but its results file could not be read: {e}"
            )),
        }
    }

    /// Runs the fix of `activity`; a line for the outcome message, or the failure message.
    pub async fn fix(&self, activity: &Activity) -> Result<String, String> {
        let work = WorkDir::create(&self.work_root, activity)?;
        let line = command_line(&self.tools.find()?, Step::Fix, activity, &work.files())?;
        tracing::info!(activity = activity.id, "running {line}");
        run(&line).await?;
        Ok(format!("`{line}` completed"))
    }
}

/// `<work root>/<activity id>/`, emptied when created and removed when dropped.
struct WorkDir {
    dir: PathBuf,
    tailoring: Option<PathBuf>,
    results: PathBuf,
}

impl WorkDir {
    fn create(root: &Path, activity: &Activity) -> Result<Self, String> {
        let dir = root.join(activity.id.to_string());
        let made = (|| {
            let _ = std::fs::remove_dir_all(&dir);
            crate::fsutil::create_private_dir(&dir)?;
            let tailoring = match &activity.tailoring_file {
                Some(text) => {
                    let path = dir.join("tailoring.xml");
                    std::fs::write(&path, text)?;
                    Some(path)
                }
                None => None,
            };
            anyhow::Ok(tailoring)
        })();
        let tailoring = made.map_err(|e| {
            format!(
                "cannot prepare the work folder {} on this machine: {e:#}",
                dir.display()
            )
        })?;
        Ok(Self {
            results: dir.join("results.xml"),
            dir,
            tailoring,
        })
    }

    fn files(&self) -> Files<'_> {
        Files {
            tailoring: self.tailoring.as_deref(),
            results: &self.results,
        }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;
