//! Runs the shape-and-merge sample N times (default 200), for instruction counts under
//! `valgrind --tool=callgrind` (stable on a shared machine, unlike wall-clock time):
//! `valgrind --tool=callgrind target/release/examples/shape_merge_icount 200` minus a run with 0.

use tributary_core::bench_api::{ShapeMergeFixture, sample};

// The allocator the binaries use (see functions/src/bin/tributary.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let fixture = ShapeMergeFixture::new(sample::CONFIG, sample::bodies()).expect("the sample compiles");
    let mut total = 0;
    for _ in 0..n {
        total += fixture.run().len();
    }
    println!("{n} runs, {total} bytes out");
}
