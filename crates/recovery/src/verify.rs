//! Verification commands: proof that a restored system actually works.
//!
//! Each `[[system.verify]]` check is a program (`command = [...]`, no shell) or a script
//! (`shell = "..."`, run with `sh -c`), started in the restored directory with stdin closed
//! and these environment variables (also usable as `${NAME}` in `command` arguments):
//!
//! | variable | value |
//! |---|---|
//! | `KURA_RESTORED_DIR` | the directory the system was restored into |
//! | `KURA_SYSTEM`, `KURA_CHECK` | the system and check names |
//! | `KURA_SCRATCH_DIR` | the plan's scratch directory, when set |
//! | anything in [`VerifyEnv::vars`] | e.g. `KURA_SCRATCH_DB_URL`, `PGHOST` from the drill |
//! | the check's own `env` table | |
//!
//! A check passes when it exits with `expect.exit_code` (default 0) within its timeout
//! (default [`DEFAULT_TIMEOUT_SECS`]) *and* its trimmed standard output meets the one output
//! condition, if any: `output` (equal text), `at_least` (an integer, read from the last
//! non-empty line, at least N) or `same_as` (equal to the output of an earlier passed check,
//! which is how "count SS-MIX2 patients and compare with the database" is written).
//!
//! On timeout the whole process group is killed (`kill -KILL -PGID`), so a `psql` started by
//! a shell script does not outlive its check. Output is captured up to [`OUTPUT_LIMIT`]
//! bytes per stream; what is beyond is dropped and the result says so.

use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::plan::{Check, System};

/// Timeout of a check without `timeout`, in seconds (10 minutes: loading a large dump).
pub const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// Bytes of each output stream kept per check.
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// Bytes of output shown in messages and reports.
const EXCERPT: usize = 2000;

/// What the checks of a drill run with.
#[derive(Debug, Clone, Default)]
pub struct VerifyEnv {
    /// Extra environment variables for every check (scratch database URL, PG settings).
    pub vars: BTreeMap<String, String>,
    /// The plan's scratch directory, exported as `KURA_SCRATCH_DIR`.
    pub scratch_dir: Option<PathBuf>,
    /// Trimmed outputs of checks that passed earlier in the drill, by `system/check`.
    pub outputs: BTreeMap<String, String>,
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// Exit status, absent when the command could not start, timed out or was killed.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub seconds: f64,
    /// Trimmed standard output (at most [`OUTPUT_LIMIT`] bytes; compared by `same_as`).
    pub stdout: String,
    /// The end of standard error (an excerpt when long).
    pub stderr: String,
    /// "ok", or what went wrong in one sentence.
    pub message: String,
}

/// The results of all checks of one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerificationResult {
    pub system: String,
    pub passed: bool,
    pub checks: Vec<CheckResult>,
}

impl VerificationResult {
    /// One line per failed check, naming the system and the check; empty when passed.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| {
                format!(
                    "system {:?}: check {:?} failed: {}",
                    self.system, c.name, c.message
                )
            })
            .collect()
    }
}

/// Runs every check of `system` in file order against `restored_dir`.
///
/// All checks run even after a failure, so a report shows the whole picture. The outputs of
/// passed checks are available to later `same_as` checks of this system; to make them
/// available to later systems, pass the result to [`VerifyEnv::record`].
pub fn run_verification(
    system: &System,
    restored_dir: &Path,
    env: &VerifyEnv,
) -> VerificationResult {
    let mut outputs = env.outputs.clone();
    let mut checks = Vec::new();
    for check in &system.verify {
        let result = run_check(system, check, restored_dir, env, &outputs);
        if result.passed {
            outputs.insert(
                format!("{}/{}", system.name, check.name),
                result.stdout.clone(),
            );
        }
        checks.push(result);
    }
    VerificationResult {
        system: system.name.clone(),
        passed: checks.iter().all(|c| c.passed),
        checks,
    }
}

impl VerifyEnv {
    /// Makes the outputs of the passed checks of `result` available to later systems.
    pub fn record(&mut self, result: &VerificationResult) {
        for c in result.checks.iter().filter(|c| c.passed) {
            self.outputs
                .insert(format!("{}/{}", result.system, c.name), c.stdout.clone());
        }
    }
}

fn run_check(
    system: &System,
    check: &Check,
    dir: &Path,
    env: &VerifyEnv,
    outputs: &BTreeMap<String, String>,
) -> CheckResult {
    let started = Instant::now();
    let mut result = CheckResult {
        name: check.name.clone(),
        passed: false,
        exit_code: None,
        timed_out: false,
        seconds: 0.0,
        stdout: String::new(),
        stderr: String::new(),
        message: String::new(),
    };
    let vars = check_vars(system, check, dir, env);
    let outcome = build_command(check, &vars, dir).and_then(|cmd| execute(cmd, timeout_of(check)));
    result.seconds = started.elapsed().as_secs_f64();
    let run = match outcome {
        Ok(run) => run,
        Err(message) => {
            result.message = message;
            return result;
        }
    };
    result.exit_code = run.status.and_then(|s| s.code());
    result.timed_out = run.timed_out;
    let full_stdout = String::from_utf8_lossy(&run.stdout).trim().to_string();
    result.stderr = excerpt_tail(String::from_utf8_lossy(&run.stderr).trim());
    let verdict = judge(check, &run, &full_stdout, &result.stderr, system, outputs);
    result.passed = verdict.is_ok();
    result.message = verdict.err().unwrap_or_else(|| "ok".to_string());
    result.stdout = full_stdout;
    result
}

fn timeout_of(check: &Check) -> Duration {
    check
        .timeout
        .as_deref()
        .and_then(|t| kura_policy::parse_duration(t).ok())
        .and_then(|d| d.to_std().ok())
        .filter(|d| !d.is_zero())
        .unwrap_or(Duration::from_secs(DEFAULT_TIMEOUT_SECS))
}

fn check_vars(
    system: &System,
    check: &Check,
    dir: &Path,
    env: &VerifyEnv,
) -> BTreeMap<String, String> {
    let mut vars = env.vars.clone();
    vars.insert("KURA_RESTORED_DIR".into(), dir.display().to_string());
    vars.insert("KURA_SYSTEM".into(), system.name.clone());
    vars.insert("KURA_CHECK".into(), check.name.clone());
    if let Some(s) = &env.scratch_dir {
        vars.insert("KURA_SCRATCH_DIR".into(), s.display().to_string());
    }
    vars.extend(check.env.clone());
    vars
}

fn build_command(
    check: &Check,
    vars: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<Command, String> {
    let mut cmd = match (&check.command, &check.shell) {
        (Some(argv), None) if !argv.is_empty() => {
            let argv = argv
                .iter()
                .map(|a| expand(a, vars))
                .collect::<Result<Vec<_>, _>>()?;
            let mut c = Command::new(&argv[0]);
            c.args(&argv[1..]);
            c
        }
        (None, Some(script)) => {
            let mut c = Command::new("sh");
            c.arg("-c").arg(script);
            c
        }
        _ => return Err("the check needs exactly one of command or shell".into()),
    };
    if !dir.is_dir() {
        return Err(format!(
            "the restored directory {} does not exist",
            dir.display()
        ));
    }
    cmd.current_dir(dir)
        .envs(vars)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group, so a timeout can kill the command and everything it started.
        .process_group(0);
    Ok(cmd)
}

/// Replaces `${NAME}` with the variable's value; an unknown name is an error, not "".
fn expand(arg: &str, vars: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed ${{ in argument {arg:?}"));
        };
        let name = &after[..end];
        match vars.get(name) {
            Some(v) => out.push_str(v),
            None => {
                return Err(format!(
                    "argument {arg:?} uses ${{{name}}}, which is not set"
                ))
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

struct Run {
    status: Option<ExitStatus>,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    truncated: bool,
}

fn execute(mut cmd: Command, timeout: Duration) -> Result<Run, String> {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {program:?}: {e} (is it installed and on PATH?)"))?;
    let out = reader(child.stdout.take());
    let err = reader(child.stderr.take());
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() >= deadline => {
                timed_out = true;
                kill_group(&mut child);
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                kill_group(&mut child);
                return Err(format!("cannot wait for {program:?}: {e}"));
            }
        }
    };
    // Children of the command may still hold the pipes open: give them a moment, then take
    // whatever was read rather than hanging the drill.
    let (stdout, t1) = collect(out);
    let (stderr, t2) = collect(err);
    Ok(Run {
        status,
        timed_out,
        stdout,
        stderr,
        truncated: t1 || t2,
    })
}

type Buffer = Arc<Mutex<(Vec<u8>, bool)>>;

fn reader<R: Read + Send + 'static>(pipe: Option<R>) -> (Buffer, Option<JoinHandle<()>>) {
    let buf: Buffer = Arc::new(Mutex::new((Vec::new(), false)));
    let Some(mut pipe) = pipe else {
        return (buf, None);
    };
    let shared = Arc::clone(&buf);
    let handle = std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            let mut b = shared.lock().unwrap_or_else(|e| e.into_inner());
            let room = OUTPUT_LIMIT.saturating_sub(b.0.len());
            b.0.extend_from_slice(&chunk[..n.min(room)]);
            b.1 |= n > room;
        }
    });
    (buf, Some(handle))
}

fn collect((buf, handle): (Buffer, Option<JoinHandle<()>>)) -> (Vec<u8>, bool) {
    if let Some(h) = handle {
        let until = Instant::now() + Duration::from_secs(2);
        while !h.is_finished() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        if h.is_finished() {
            let _ = h.join();
        }
    }
    let b = buf.lock().unwrap_or_else(|e| e.into_inner());
    (b.0.clone(), b.1)
}

fn kill_group(child: &mut Child) {
    // The child leads its own process group (process_group(0)), so -PID names the group.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

fn judge(
    check: &Check,
    run: &Run,
    stdout: &str,
    stderr: &str,
    system: &System,
    outputs: &BTreeMap<String, String>,
) -> Result<(), String> {
    let expect = &check.expect;
    if run.timed_out {
        return Err(format!(
            "timed out after {}s and was killed",
            timeout_of(check).as_secs()
        ));
    }
    let code = run.status.and_then(|s| s.code());
    if code != Some(expect.exit_code) {
        let got = code.map_or_else(
            || "killed by a signal".to_string(),
            |c| format!("exit status {c}"),
        );
        let detail = error_line(stderr)
            .or_else(|| last_line(stderr))
            .or_else(|| last_line(stdout))
            .unwrap_or_default();
        return Err(format!(
            "{got} (expected {}){}",
            expect.exit_code,
            prefixed(&detail)
        ));
    }
    if run.truncated && expect.output_conditions() > 0 {
        return Err(format!(
            "output longer than {OUTPUT_LIMIT} bytes; print a summary instead"
        ));
    }
    judge_output(expect, stdout, system, outputs)
}

/// The output condition of `expect`, if any (the exit status already matched).
fn judge_output(
    expect: &crate::plan::Expect,
    stdout: &str,
    system: &System,
    outputs: &BTreeMap<String, String>,
) -> Result<(), String> {
    if let Some(want) = &expect.output {
        if stdout != want.trim() {
            return Err(format!(
                "output was {:?}, expected {:?}",
                excerpt_head(stdout),
                want.trim()
            ));
        }
    }
    if let Some(min) = expect.at_least {
        let line = last_line(stdout).unwrap_or_default();
        match line.trim().parse::<i64>() {
            Ok(n) if n >= min => {}
            Ok(n) => return Err(format!("got {n}, expected at least {min}")),
            Err(_) => {
                return Err(format!(
                    "output {line:?} is not a number (expected at least {min})"
                ))
            }
        }
    }
    if let Some(target) = &expect.same_as {
        let key = if target.contains('/') {
            target.clone()
        } else {
            format!("{}/{target}", system.name)
        };
        match outputs.get(&key) {
            Some(other) if other == stdout => {}
            Some(other) => return Err(format!("output {:?} differs from {key}'s {:?}", excerpt_head(stdout), excerpt_head(other))),
            None => return Err(format!("{key} did not pass (or did not run before this check), so there is nothing to compare with")),
        }
    }
    Ok(())
}

/// The last line that looks like an error message: tools such as psql end their stderr
/// with a context line (`LINE 1: ...`, `^`) that says nothing on its own.
fn error_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("fatal")
        })
        .map(|l| l.trim().to_string())
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

fn prefixed(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(": {}", excerpt_head(detail))
    }
}

pub(crate) fn excerpt_head(text: &str) -> String {
    if text.len() <= EXCERPT {
        return text.to_string();
    }
    let mut end = EXCERPT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn excerpt_tail(text: &str) -> String {
    if text.len() <= EXCERPT {
        return text.to_string();
    }
    let mut start = text.len() - EXCERPT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod tests;
