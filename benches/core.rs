//! Core cost per event: validation + PII normalization/hashing + routing + planning the request
//! for every destination. Plain `Instant` timing (no criterion: it must also build for
//! wasm32-wasip1 so the same loop runs under a WebAssembly engine for the wasm/native ratio).
//!
//! Run: `cargo bench --bench core` (native) — scripts/bench also runs it as wasm.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use pixelgate::core::consent::{ConsentPolicy, ConsentState};
use pixelgate::core::destinations::{destination, Credentials, PlatformConfig};
use pixelgate::core::event::{parse_event, IntakeContext};
use pixelgate::core::fanout::{route, PixelRoute};
use pixelgate::core::platform::Platform;
use serde_json::json;

const NOW: i64 = 1_760_000_000;

fn main() {
    let body = json!({
        "event_id": "ord-10001", "event_name": "purchase", "event_time": NOW - 3,
        "visitor_id": "v-123e4567", "url": "https://shop.example/checkout/thanks?utm_source=news",
        "referrer": "https://shop.example/cart",
        "user_data": {"email": "  Maria.Lopez+news@Gmail.com ", "phone": "(415) 555-2671", "first_name": "María",
                      "last_name": "López", "city": "San Francisco", "state": "California", "zip": "94103-1234",
                      "country": "United States", "dob": "1990-05-17", "gender": "Female", "external_id": "cust-42"},
        "custom_data": {"value": 129.9, "currency": "usd", "content_ids": ["sku-1", "sku-2"],
                        "contents": [{"id": "sku-1", "quantity": 1, "item_price": 99.9}, {"id": "sku-2", "quantity": 2, "item_price": 15.0}]},
        "click_ids": {"fbc": "fb.1.1759999000000.IwAR2xyz", "fbp": "fb.1.1759999000000.1234567890",
                      "ttclid": "E.C.P.abc", "li_fat_id": "li-1", "ga_client_id": "GA1.1.111.222"},
        "utm": {"source": "news", "medium": "email"}
    });
    let ctx = IntakeContext {
        now: NOW,
        ip: Some("203.0.113.9"),
        user_agent: Some("Mozilla/5.0 (Macintosh)"),
        geo_country: Some("us"),
        trusted: false,
    };
    let pixels: Vec<PixelRoute> = Platform::ALL
        .iter()
        .enumerate()
        .map(|(i, p)| PixelRoute {
            id: format!("px{i}"),
            platform: *p,
            is_active: true,
            server_side_enabled: true,
            domains: vec![],
            event_names: vec![],
        })
        .collect();
    let consent = ConsentState {
        analytics: true,
        marketing: true,
        functional: true,
        version: "1".into(),
        updated_at: NOW,
        tc_string: None,
    };
    let policy = ConsentPolicy::default();
    let cfg = PlatformConfig::default();
    let creds = |p: Platform| Credentials {
        pixel_id: match p {
            Platform::Google => "G-ABC123".into(),
            Platform::Tiktok => "CABCDEFGHIJ123".into(),
            _ => "123456789".into(),
        },
        access_token: Some("token".into()),
        api_secret: Some("secret".into()),
        test_event_code: None,
        settings: Default::default(),
    };
    let all_creds: Vec<(Platform, Credentials)> =
        Platform::ALL.iter().map(|p| (*p, creds(*p))).collect();

    let run = |iterations: u32, platforms: &[Platform]| -> f64 {
        let start = Instant::now();
        for _ in 0..iterations {
            let parsed =
                parse_event(black_box(&body), "", &ctx, &mut || "gen".to_string()).expect("valid");
            let event = Arc::new(parsed.event);
            let routed = route("tenant", &event, &pixels, Some(&consent), &policy);
            for job in routed
                .jobs
                .iter()
                .filter(|j| platforms.contains(&j.platform))
            {
                let dest = destination(job.platform).expect("destination");
                let c = &all_creds
                    .iter()
                    .find(|(p, _)| *p == job.platform)
                    .expect("creds")
                    .1;
                let plan = dest.plan(&cfg, c, std::slice::from_ref(&job.delivery), NOW);
                black_box(plan);
            }
        }
        start.elapsed().as_secs_f64() * 1e6 / iterations as f64
    };
    let iterations: u32 = std::env::var("BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    run(iterations / 10, &Platform::ALL); // warm-up
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(
            parse_event(black_box(&body), "", &ctx, &mut || "gen".to_string()).expect("valid"),
        );
    }
    let intake = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    let parsed = parse_event(&body, "", &ctx, &mut || "gen".to_string()).expect("valid");
    let event = Arc::new(parsed.event);
    let start = Instant::now();
    for _ in 0..iterations {
        black_box(route(
            "tenant",
            black_box(&event),
            &pixels,
            Some(&consent),
            &policy,
        ));
    }
    let routing = start.elapsed().as_secs_f64() * 1e6 / iterations as f64;
    let routed = route("tenant", &event, &pixels, Some(&consent), &policy);
    let mut per_platform = Vec::new();
    for job in &routed.jobs {
        let dest = destination(job.platform).expect("destination");
        let c = &all_creds
            .iter()
            .find(|(p, _)| *p == job.platform)
            .expect("creds")
            .1;
        let start = Instant::now();
        for _ in 0..iterations {
            black_box(dest.plan(&cfg, c, std::slice::from_ref(&job.delivery), NOW));
        }
        per_platform.push(format!(
            "\"{}\":{:.2}",
            job.platform.as_str(),
            start.elapsed().as_secs_f64() * 1e6 / iterations as f64
        ));
    }
    eprintln!(
        "breakdown µs: intake {intake:.2}, route {routing:.2}, plan {{{}}}",
        per_platform.join(",")
    );
    // The headline numbers are the fastest of five rounds: on a shared machine the slower rounds
    // measure the neighbours (same-code runs spread 9.5-17 µs there; the fastest round holds).
    const ROUNDS: u32 = 5;
    let best = |f: &dyn Fn() -> f64| (0..ROUNDS).map(|_| f()).fold(f64::INFINITY, f64::min);
    let meta = best(&|| run(iterations / ROUNDS, &[Platform::Meta]));
    let all = best(&|| run(iterations / ROUNDS, &Platform::ALL));

    // Under load the queue consumer plans a batch per pixel: 100 events, one plan per destination.
    const BATCH: usize = 100;
    let batches = (iterations as usize / ROUNDS as usize / BATCH).max(1);
    let batched_round = || {
        let start = Instant::now();
        for _ in 0..batches {
            let mut per_platform: Vec<Vec<_>> =
                vec![Vec::with_capacity(BATCH); Platform::ALL.len()];
            for _ in 0..BATCH {
                let parsed = parse_event(black_box(&body), "", &ctx, &mut || "gen".to_string())
                    .expect("valid");
                let event = Arc::new(parsed.event);
                for job in route("tenant", &event, &pixels, Some(&consent), &policy).jobs {
                    let slot = Platform::ALL
                        .iter()
                        .position(|p| *p == job.platform)
                        .expect("platform");
                    per_platform[slot].push(job.delivery);
                }
            }
            for (platform, deliveries) in Platform::ALL.iter().zip(&per_platform) {
                let c = &all_creds
                    .iter()
                    .find(|(p, _)| p == platform)
                    .expect("creds")
                    .1;
                let dest = destination(*platform).expect("destination");
                black_box(dest.plan(&cfg, c, deliveries, NOW));
            }
        }
        start.elapsed().as_secs_f64() * 1e6 / (batches * BATCH) as f64
    };
    let all_batched = best(&batched_round);

    // One machine-readable line for scripts/bench, then a human one.
    println!("{{\"meta_us_per_event\":{meta:.2},\"all_four_us_per_event\":{all:.2},\"all_four_batched_us_per_event\":{all_batched:.2},\"iterations\":{iterations}}}");
    eprintln!("core per event: intake+hash+route+plan Meta {meta:.2} µs; all four destinations {all:.2} µs; all four in batches of {BATCH}: {all_batched:.2} µs");
}
