//! Criterion benchmark of the pure shape-and-merge step (decode, shape, merge, render) of one
//! endpoint with three backends answering ~10 KB of JSON each, through `tributary_core::bench_api`:
//! compact with sorted keys (the best case), and the same documents spaced with keys unsorted.
//! A reference case times serde_json only validating the same three documents (deserialising
//! into `IgnoredAny`: no tree, no output), the floor of a byte-at-a-time parser; two more time the
//! SIMD JSON crates on the same documents (sonic-rs building its tree, simd-json building its tape
//! with runtime CPU detection), the measurement behind keeping our own transcoder.

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use std::hint::black_box;
use tributary_core::bench_api::ShapeMergeFixture;
use tributary_core::bench_api::sample::{CONFIG, bodies, spaced_unsorted};

// mimalloc: the pipeline allocates many small JSON nodes per request, which mimalloc serves in
// fewer instructions than glibc's allocator (BENCHMARKS.md, "Measured design choices").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn shape_merge(c: &mut Criterion) {
    let sorted = bodies();
    let input_bytes: usize = sorted.iter().map(Bytes::len).sum();
    // The same documents as a backend keeping its own key order and Python's spacing sends them.
    let spaced: Vec<Bytes> = sorted.iter().map(|b| spaced_unsorted(b)).collect();
    let fixture = ShapeMergeFixture::new(CONFIG, sorted.clone()).expect("the bench config compiles");

    // Measure a correct path: every backend contributed its shaped part.
    let out: Value = serde_json::from_slice(&fixture.run()).expect("the output is JSON");
    for key in ["people", "recent_orders", "sales", "shop"] {
        assert!(out.get(key).is_some(), "missing `{key}` in the merged output");
    }
    assert!(out["sales"].get("internal").is_none(), "deny did not apply");
    assert!(out["shop"].get("tracking").is_none(), "deny did not apply");

    let spaced_bytes: usize = spaced.iter().map(Bytes::len).sum();
    let spaced = ShapeMergeFixture::new(CONFIG, spaced).expect("the bench config compiles");
    assert_eq!(spaced.run(), fixture.run(), "key order and spacing changed the answer");

    let mut group = c.benchmark_group("shape_merge");
    group.throughput(Throughput::Bytes(input_bytes as u64));
    group.bench_function("3_backends_10KB_each", |b| b.iter(|| black_box(fixture.run())));
    group.throughput(Throughput::Bytes(spaced_bytes as u64));
    group.bench_function("3_backends_10KB_each_spaced_unsorted", |b| b.iter(|| black_box(spaced.run())));
    group.throughput(Throughput::Bytes(input_bytes as u64));
    group.bench_function("reference_serde_json_validate_only_3x10KB", |b| {
        b.iter(|| {
            for body in &sorted {
                let valid = serde_json::from_slice::<serde::de::IgnoredAny>(black_box(body)).is_ok();
                assert!(valid);
            }
        })
    });
    group.bench_function("reference_sonic_rs_value_3x10KB", |b| {
        b.iter(|| {
            for body in &sorted {
                let value: sonic_rs::Value = sonic_rs::from_slice(black_box(body)).expect("valid JSON");
                black_box(&value);
            }
        })
    });
    // simd-json parses in place, so each run copies the documents into its buffers first (about
    // 1 us of the figure for 31 KB).
    let mut scratch: Vec<Vec<u8>> = sorted.iter().map(|body| body.to_vec()).collect();
    let mut buffers = simd_json::Buffers::default();
    group.bench_function("reference_simd_json_tape_3x10KB", |b| {
        b.iter(|| {
            for (body, buf) in sorted.iter().zip(scratch.iter_mut()) {
                buf.clear();
                buf.extend_from_slice(body);
                let tape = simd_json::to_tape_with_buffers(black_box(buf), &mut buffers).expect("valid JSON");
                black_box(tape.0.len());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, shape_merge);
criterion_main!(benches);
