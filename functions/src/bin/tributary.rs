//! `tributary`: the CLI and local server. Wiring only; the logic lives in the library.

use clap::Parser;
use tributary_functions::app_log;
use tributary_functions::cli::{self, Cli, Command};

// mimalloc: the pipeline allocates many small JSON nodes per request, which mimalloc serves in
// fewer instructions than glibc's allocator (BENCHMARKS.md, "Measured design choices").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let cli = Cli::parse();
    let debug = matches!(cli.command, Command::Run { debug: true, .. });
    // KrakenD's log lines; `run` and `demo` apply the config's `telemetry/logging` once read.
    app_log::init(debug);
    // One thread when the process may use one CPU (a pinned server, a one-vCPU container): no
    // work-stealing scheduler and no cross-thread wake-ups, as nginx runs one worker per core.
    let one_cpu = std::thread::available_parallelism().is_ok_and(|n| n.get() == 1);
    let mut builder = if one_cpu {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(cli::run(cli));
    std::process::exit(code);
}
