//! Criterion benchmark of `modifier/martian` (issue 19's targets): a `fifo.Group` of three header
//! modifiers applied to a realistic backend request and its answer, against the same copies
//! without martian; and the start-up cost of 200 martian groups (parse, validate, compile of a
//! 200-endpoint config with and without a group on each backend).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use tributary_core::bench_api::martian::{MartianFixture, compile_config, config_with_backends};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const THREE_HEADER_MODIFIERS: &str = r#"{"fifo.Group": {"scope": ["request", "response"], "aggregateErrors": true,
    "modifiers": [
        {"header.Modifier": {"name": "X-Martian", "value": "ouh yeah!", "scope": ["request", "response"]}},
        {"header.Append": {"name": "X-PLATFORM", "value": "web", "scope": ["request", "response"]}},
        {"header.Blacklist": {"names": ["X-Forwarded-Host"], "scope": ["request"]}}]}}"#;

fn martian(c: &mut Criterion) {
    let fixture = MartianFixture::new(THREE_HEADER_MODIFIERS).expect("the bench modifiers compile");
    // 8 request headers + 1 set + 1 appended - 1 removed; 2 response headers + 2.
    assert_eq!(fixture.exchange(), 9 + 4, "the modifiers did not all apply");

    let mut group = c.benchmark_group("martian");
    group.bench_function("fifo_group_of_3_header_modifiers_request_and_response", |b| {
        b.iter(|| black_box(fixture.exchange()))
    });
    group.bench_function("baseline_same_exchange_without_martian", |b| b.iter(|| black_box(fixture.baseline())));

    let with = config_with_backends(200, true);
    let without = config_with_backends(200, false);
    assert_eq!(compile_config(&with), 200);
    group.sample_size(20);
    group.bench_function("startup_200_endpoints_with_a_martian_group_each", |b| {
        b.iter(|| black_box(compile_config(black_box(&with))))
    });
    group.bench_function("startup_200_endpoints_without_martian", |b| {
        b.iter(|| black_box(compile_config(black_box(&without))))
    });
    group.finish();
}

criterion_group!(benches, martian);
criterion_main!(benches);
