//! The `tributary` binary run as a child process on 127.0.0.1 (for what only a whole process
//! shows: its resident memory), with every wait bounded and the child killed on drop.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's root directory (`events/`, `scripts/`, the binaries' sources).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace root").to_path_buf()
}

/// The `tributary` binary of the profile the tests were built with.
pub fn tributary_bin() -> PathBuf {
    workspace_bin("tributary")
}

/// A binary of the workspace, built with the tests' profile: tests run from
/// `<target>/<profile>/deps/`, binaries sit in `<target>/<profile>/`.
pub fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()));
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "the `{name}` binary is missing at {}: build it first with `cargo build -p tributary-functions` \
         (same profile as the tests)",
        bin.display()
    );
    bin
}

/// One test of the running test binary, to be run again in a child process (with other
/// environment variables, or inside a namespace): the binary, and the name libtest knows the test
/// by, which is its path inside the test crate.
#[derive(Debug, Clone)]
pub struct OneTest {
    pub exe: PathBuf,
    pub name: String,
}

impl OneTest {
    /// The test function `test` declared in `module`: pass `module_path!()`, whose first segment
    /// (the test crate's name) libtest leaves out.
    pub fn new(module: &str, test: &str) -> OneTest {
        let name = match module.split_once("::") {
            Some((_, inner)) => format!("{inner}::{test}"),
            None => test.to_owned(),
        };
        OneTest { exe: std::env::current_exe().expect("the test binary's path"), name }
    }

    /// The arguments that run this test alone, on one thread, with its output shown.
    pub fn args(&self) -> [&str; 4] {
        [&self.name, "--exact", "--nocapture", "--test-threads=1"]
    }
}

/// A port of 127.0.0.1 free at the time of the call.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

/// `tributary run -c CONFIG -p PORT` on a free port of 127.0.0.1.
pub struct GatewayProcess {
    pub addr: SocketAddr,
    child: Child,
    _dir: TempDir,
}

impl GatewayProcess {
    /// Writes `config` to a temporary file, starts the gateway and waits (at most 20 s) until it
    /// accepts connections.
    pub fn start(config: &str) -> GatewayProcess {
        Self::start_with_env(config, &[])
    }

    /// [`GatewayProcess::start`] with extra environment variables for the gateway.
    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> GatewayProcess {
        let dir = TempDir::new("process");
        let path = dir.write("krakend.json", config);
        let port = free_port();
        let child = Command::new(tributary_bin())
            .args(["run", "-c"])
            .arg(&path)
            .args(["-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start tributary");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut process = GatewayProcess { addr, child, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Ok(Some(status)) = process.child.try_wait() {
                panic!("tributary exited before listening: {status}");
            }
            assert!(Instant::now() < deadline, "tributary did not listen within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// A line of `/proc/PID/status` in KiB: `VmRSS` (resident now), `VmHWM` (resident at peak).
    pub fn memory_kib(&self, field: &str) -> u64 {
        let mut status = String::new();
        std::fs::File::open(format!("/proc/{}/status", self.child.id()))
            .and_then(|mut f| f.read_to_string(&mut status))
            .expect("read the gateway's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A fresh directory under the system's temporary directory, removed with its contents on drop.
#[derive(Debug)]
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// `tributary-TAG-PID-N`: unique within the test process and across processes.
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tributary-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `contents` to the file `name` of the directory; its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
