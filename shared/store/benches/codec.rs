//! Reading a customer's state item back: every order, return and job step
//! decodes one. `cargo bench -p tier-store --bench codec`.

#[path = "../tests/common/heavy_customer.rs"]
mod heavy_customer;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};
use tier_store::{decode_state, encode_state_as, ItemFormat};

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_state");
    for (per_year, years) in [(50, 1), (1_000, 1), (10_000, 2)] {
        let state = heavy_customer::state_after(per_year, years);
        for (name, format) in [("json", ItemFormat::Json), ("binary", ItemFormat::Binary)] {
            let bytes = encode_state_as(&state, format);
            assert_eq!(decode_state(&bytes).unwrap(), state);
            let id = BenchmarkId::new(name, format!("{per_year}x{years}y_{}B", bytes.len()));
            group.bench_with_input(id, &bytes, |b, bytes| {
                b.iter(|| decode_state(black_box(bytes)).unwrap())
            });
        }
    }
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
