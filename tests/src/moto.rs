//! A `moto_server` (PyPI `moto[server]`, a local AWS emulator) on 127.0.0.1 for the SSM tests:
//! started on a free port, ready once it accepts connections, stopped on drop. Nothing here
//! talks to AWS.
//!
//! The server runs under a small `sh` watchdog that holds a pipe from this process: when the
//! pipe closes (drop, or this process dying in any way, even SIGKILL), the watchdog kills the
//! server. So a server kept in a `static` for a whole test binary does not outlive it.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Time for `moto_server` to accept connections (Python start-up; slow CI included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Time for the watchdog to stop the server once its pipe is closed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Keep this much of the server's output for messages.
const OUTPUT_TAIL: usize = 4096;

/// Runs `moto_server` on 127.0.0.1:$1 and kills it when stdin (kept on fd 3) reaches EOF; exits
/// with the server's status if the server stops by itself (e.g. the port was taken).
const WATCHDOG: &str = r#"exec 3<&0
moto_server -H 127.0.0.1 -p "$1" </dev/null &
moto=$!
(read -r _ <&3; kill "$moto" 2>/dev/null) &
wait "$moto""#;

/// A running `moto_server`; dropping it stops the server.
pub struct Moto {
    port: u16,
    child: Child,
    pipe: Option<ChildStdin>,
    output: Arc<Mutex<Vec<u8>>>,
}

impl std::fmt::Debug for Moto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moto").field("port", &self.port).finish()
    }
}

impl Moto {
    /// Starts a server with extra environment variables (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`).
    /// Panics with a clear message when `moto_server` is not installed or does not start.
    pub fn start(env: &[(&str, &str)]) -> Moto {
        assert!(
            on_path("moto_server"),
            "`moto_server` is not on PATH: the SSM tests need it. Install it with \
             `pip install 'moto[server]'` (CI does)"
        );
        let mut last_error = String::new();
        // A free port can be taken between the probe and moto's bind: try a few.
        for _ in 0..3 {
            match Moto::try_start(env) {
                Ok(moto) => return moto,
                Err(e) => last_error = e,
            }
        }
        panic!("moto_server did not start: {last_error}");
    }

    fn try_start(env: &[(&str, &str)]) -> Result<Moto, String> {
        let port = free_port();
        let mut command = Command::new("sh");
        command
            .args(["-c", WATCHDOG, "moto-watchdog", &port.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().map_err(|e| format!("cannot run `sh`: {e}"))?;
        let pipe = child.stdin.take();
        let output = Arc::new(Mutex::new(Vec::new()));
        // Drain both streams (stderr carries moto's request log): a full pipe would stall the
        // server. The threads end when the watchdog and the server have exited.
        if let Some(s) = child.stdout.take() {
            let output = output.clone();
            std::thread::spawn(move || drain(s, &output));
        }
        if let Some(s) = child.stderr.take() {
            let output = output.clone();
            std::thread::spawn(move || drain(s, &output));
        }
        let mut moto = Moto { port, child, pipe, output };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok() {
                return Ok(moto);
            }
            if let Ok(Some(status)) = moto.child.try_wait() {
                return Err(format!("moto_server exited ({status}): {}", moto.output_tail()));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no connection accepted on 127.0.0.1:{port} within {START_TIMEOUT:?}: {}",
                    moto.output_tail()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The server shared by a whole test binary (started on first use). It is stopped when the
    /// process exits (statics are not dropped: the watchdog's pipe closes).
    pub fn shared() -> &'static Moto {
        static SHARED: OnceLock<Moto> = OnceLock::new();
        SHARED.get_or_init(|| Moto::start(&[]))
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last bytes the server printed, for messages.
    pub fn output_tail(&self) -> String {
        let out = self.output.lock().map(|o| o.clone()).unwrap_or_default();
        String::from_utf8_lossy(&out).into_owned()
    }

    /// Creates an IAM user with no policy at all and an access key for it: `(key id, secret)`.
    /// For a server started with `INITIAL_NO_AUTH_ACTION_COUNT=2`, these must be its first two
    /// requests (they go unauthenticated); every later request is authenticated and authorised
    /// by moto's IAM, so this user is denied everything.
    pub fn create_user_without_permissions(&self, user: &str) -> (String, String) {
        let created = self.iam_call(&format!("Action=CreateUser&UserName={user}&Version=2010-05-08"));
        assert!(created.contains("<CreateUserResult>"), "IAM CreateUser failed: {created}");
        let key = self.iam_call(&format!("Action=CreateAccessKey&UserName={user}&Version=2010-05-08"));
        let id = xml_text(&key, "AccessKeyId").unwrap_or_else(|| panic!("IAM CreateAccessKey failed: {key}"));
        let secret = xml_text(&key, "SecretAccessKey").unwrap_or_else(|| panic!("IAM CreateAccessKey failed: {key}"));
        (id, secret)
    }

    /// One IAM query-protocol call. moto routes a request to a service by the credential scope of
    /// its `Authorization` header; the signature itself is not checked for the first
    /// `INITIAL_NO_AUTH_ACTION_COUNT` requests.
    fn iam_call(&self, form: &str) -> String {
        let request = format!(
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/iam/aws4_request, \
             SignedHeaders=host, Signature=00\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{form}",
            port = self.port,
            len = form.len()
        );
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).expect("connect to moto");
        stream.set_read_timeout(Some(Duration::from_secs(20))).expect("set a read timeout");
        stream.write_all(request.as_bytes()).expect("send an IAM request to moto");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read moto's IAM answer");
        String::from_utf8_lossy(&answer).into_owned()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog kill the server, and then exit.
        drop(self.pipe.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn drain(mut stream: impl Read, output: &Mutex<Vec<u8>>) {
    let mut chunk = [0u8; 4096];
    while let Ok(n) = stream.read(&mut chunk) {
        if n == 0 {
            break;
        }
        if let Ok(mut out) = output.lock() {
            out.extend_from_slice(&chunk[..n]);
            let excess = out.len().saturating_sub(OUTPUT_TAIL);
            out.drain(..excess);
        }
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

pub use crate::process::free_port;

/// The text of the first `<tag>...</tag>` in `xml`.
fn xml_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    Some(xml[start..end].to_owned())
}
