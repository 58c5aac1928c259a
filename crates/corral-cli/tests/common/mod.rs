//! Runners the CLI test files share (each test file is its own crate and uses a part).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};

use integration::testbin_path;

/// The `corral` binary under test, as a command to finish.
pub fn corral_cmd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_corral"))
}

/// Runs `corral ARGS` to the end with no terminal width and no stdin.
pub fn corral_output(args: &[&str]) -> Output {
    corral_cmd()
        .args(args)
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .output()
        .expect("run corral")
}

/// Standard output, lossily as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error, lossily as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Starts `corral run ARGS -- testbin TESTBIN_ARGS` in the background and reads testbin's
/// ready line: the child and testbin's pid.
pub fn run_testbin(args: &[&str], testbin_args: &[&str]) -> (Child, u32) {
    let mut c = corral_cmd()
        .arg("run")
        .args(args)
        .arg("--")
        .arg(testbin_path())
        .args(testbin_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let pid = line
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("pid="))
        .unwrap_or_else(|| panic!("no ready line: {line:?}"))
        .parse()
        .unwrap();
    (c, pid)
}
