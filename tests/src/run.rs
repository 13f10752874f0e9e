//! Child processes bounded in time: stdout and stderr drained by threads (a full pipe would block
//! the child), every wait with a limit, SIGTERM then SIGKILL to stop, killed on drop.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A running child whose stdout and stderr are collected by threads.
#[derive(Debug)]
pub struct Running {
    pub child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
}

/// Reads `pipe` to its end on a thread; the text, lossily decoded.
pub fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits until `child` exits or `limit` passes; `None` on time-out (the child still runs).
pub fn wait_for(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() >= deadline => return None,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("cannot wait for a child: {e}"),
        }
    }
}

/// SIGTERM (via `kill`), then SIGKILL when `child` has not exited within `grace`. The exit
/// status when it stopped on SIGTERM (or had exited already).
pub fn stop(child: &mut Child, grace: Duration) -> Result<ExitStatus, String> {
    if let Ok(Some(status)) = child.try_wait() {
        return Ok(status);
    }
    let pid = child.id().to_string();
    let termed = Command::new("kill").args(["-TERM", &pid]).status().is_ok_and(|s| s.success());
    if termed && let Some(status) = wait_for(child, grace) {
        return Ok(status);
    }
    let _ = child.kill();
    let _ = child.wait();
    Err(if termed {
        format!("did not stop within {grace:?} of SIGTERM (killed)")
    } else {
        "`kill -TERM` failed (killed instead)".to_owned()
    })
}

impl Running {
    /// Starts `cmd` with no stdin and its stdout and stderr collected; panics when it cannot start.
    pub fn spawn(mut cmd: Command) -> Running {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let stdout = child.stdout.take().map(drain);
        let stderr = child.stderr.take().map(drain);
        Running { child, stdout, stderr }
    }

    /// See [`wait_for`].
    pub fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        wait_for(&mut self.child, limit)
    }

    /// See [`stop`].
    pub fn stop(&mut self, grace: Duration) -> Result<ExitStatus, String> {
        stop(&mut self.child, grace)
    }

    /// Kills the child if it still runs.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// What the child printed, (stdout, stderr); call once it has exited (or been killed).
    pub fn output(&mut self) -> (String, String) {
        let out = self.stdout.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        let err = self.stderr.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        (out, err)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A command run to its end or to its time limit.
#[derive(Debug)]
pub struct Ran {
    /// `None`: still running at the limit, then killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    /// The exit code (`None` when killed by a signal or at the limit).
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }
}

/// Runs `cmd` (no stdin) to its end, at most `limit`; then kills it.
pub fn run_bounded(cmd: Command, limit: Duration) -> Ran {
    let mut running = Running::spawn(cmd);
    let status = running.wait_for(limit);
    running.kill();
    let (stdout, stderr) = running.output();
    Ran { status, stdout, stderr }
}

/// [`run_bounded`], panicking with what the command printed when it did not finish within `limit`.
pub fn run_to_end(cmd: Command, limit: Duration) -> Ran {
    let described = format!("{cmd:?}");
    let ran = run_bounded(cmd, limit);
    if ran.status.is_none() {
        panic!("{described} did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}", ran.stdout, ran.stderr);
    }
    ran
}
