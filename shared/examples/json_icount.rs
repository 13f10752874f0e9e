//! Transcodes (or, with `tree`, decodes and encodes) a JSON file N times, for instruction counts
//! under `valgrind --tool=callgrind`: `json_icount FILE N [tree]`, minus a run with N = 0.

use tributary_core::bench_api::{decode_encode_object, transcode_object};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let body =
        bytes::Bytes::from(std::fs::read(args.get(1).map_or("missing.json", String::as_str)).unwrap_or_default());
    let n: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let tree = args.get(3).is_some_and(|a| a == "tree");
    let mut total = 0;
    for _ in 0..n {
        let out = if tree { decode_encode_object(&body) } else { transcode_object(&body) };
        total += out.map_or(0, |o| o.len());
    }
    println!("{n} runs, {total} bytes out");
}
