//! Runs the `shape_merge` bench's sample (3 backends, ~10 KB each, target/allow/deny/mapping/group)
//! N times, for instruction counts under `valgrind --tool=callgrind`: `shape_merge_icount N
//! [spaced]`, minus a run with N = 0 (`spaced`: the same documents spaced, keys unsorted).

use tributary_core::bench_api::ShapeMergeFixture;
use tributary_core::bench_api::sample::{CONFIG, bodies, spaced_unsorted};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let mut bodies = bodies();
    if std::env::args().nth(2).is_some_and(|a| a == "spaced") {
        bodies = bodies.iter().map(|b| spaced_unsorted(b)).collect();
    }
    let fixture = ShapeMergeFixture::new(CONFIG, bodies).expect("the sample config compiles");
    let mut total = 0;
    for _ in 0..n {
        total += fixture.run().len();
    }
    println!("{n} runs, {total} bytes out");
}
