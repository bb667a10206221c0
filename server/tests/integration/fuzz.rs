//! Decoder and recipe robustness beyond the fixed cases (issue 15, item 15): every fixture photo
//! is mutated — bit flips, truncations, edited header fields, spliced and appended chunks — and
//! fed through the upload path, and random recipes (extreme values included) through the save
//! path. Each must end in success or a clean 4xx within a time bound: never a 500 (a panic or an
//! internal error), a hang, or the process dying. It runs `ATELIER_FUZZ_SECS` seconds (10 by
//! default, as in `scripts/test`; set it higher to search longer), seeded from
//! `ATELIER_FUZZ_SEED` or the clock; the seed is printed so a failure can be replayed.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{edge_fixture, fixture, TestApp};

/// xorshift64*: small, deterministic from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        [0x00, 0xff, 0x7f, 0x80, 0x01, self.next() as u8][self.below(6)]
    }
}

fn mutate(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let mut data = original.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = data.len().max(1);
        match rng.below(6) {
            // Bit flips anywhere.
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(len);
                    if let Some(byte) = data.get_mut(at) {
                        *byte ^= 1 << rng.below(8);
                    }
                }
            }
            // Cut short.
            1 => data.truncate(rng.below(len)),
            // Header fields: sizes, lengths and markers live in the first bytes.
            2 => {
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(len.min(256));
                    let value = rng.byte();
                    if let Some(byte) = data.get_mut(at) {
                        *byte = value;
                    }
                }
            }
            // A chunk copied elsewhere (spliced segments, repeated chunks).
            3 => {
                let from = rng.below(len);
                let size = rng.below(4096).min(len - from);
                let chunk = data[from..from + size].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, chunk);
            }
            // A chunk removed.
            4 => {
                let from = rng.below(len);
                let size = rng.below(4096).min(data.len().saturating_sub(from));
                data.drain(from..from + size);
            }
            // Data after the end.
            _ => data.extend((0..rng.below(2048)).map(|_| rng.next() as u8)),
        }
    }
    data
}

fn random_op(rng: &mut Rng) -> Value {
    let extreme = |rng: &mut Rng| -> i64 {
        [0, 1, -1, 100, -100, 255, 360, 4096, 65_535, i64::from(u32::MAX), rng.below(50_000) as i64][rng.below(11)]
    };
    match rng.below(16) {
        0 => {
            json!({ "op": "crop", "x": extreme(rng), "y": extreme(rng), "width": extreme(rng), "height": extreme(rng) })
        }
        1 => json!({ "op": "rotate", "quarter_turns": rng.below(6) }),
        2 => json!({ "op": "straighten", "degrees": (rng.below(200) as f64) - 100.0 + 0.5 }),
        3 => json!({ "op": "flip_horizontal" }),
        4 => json!({ "op": "flip_vertical" }),
        5 => json!({ "op": "resize", "width": extreme(rng), "height": extreme(rng) }),
        6 => json!({ "op": "grayscale" }),
        7 => json!({ "op": "brightness", "amount": extreme(rng) }),
        8 => json!({ "op": "contrast", "amount": extreme(rng) }),
        9 => json!({ "op": "saturation", "amount": extreme(rng) }),
        10 => json!({ "op": "hue", "degrees": extreme(rng) }),
        11 => json!({ "op": "gamma", "value": (rng.below(100) as f64) / 7.0 - 2.0 }),
        12 => json!({ "op": "sharpen" }),
        13 => json!({ "op": "blur", "radius": extreme(rng) }),
        14 => json!({ "op": "vignette", "strength": extreme(rng) }),
        _ => {
            let name = ["oceanic", "no_such_filter", "", "vintage"][rng.below(4)];
            json!({ "op": "filter", "name": name })
        }
    }
}

/// A clean answer: success, or the client's mistake told plainly.
fn clean(status: StatusCode) -> bool {
    status.is_success()
        || [
            StatusCode::BAD_REQUEST,
            StatusCode::FORBIDDEN,
            StatusCode::PAYLOAD_TOO_LARGE,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ]
        .contains(&status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutated_photos_and_random_recipes_end_cleanly_within_their_time() {
    let secs: u64 = std::env::var("ATELIER_FUZZ_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let seed: u64 = std::env::var("ATELIER_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1)
    }) | 1;
    println!("fuzzing for {secs} s with ATELIER_FUZZ_SEED={seed}");
    // A small pixel cap keeps each allowed replay quick; the quotas do not get in the way.
    let app = TestApp::sqlite_with(|settings| {
        settings.limits.max_image_pixels = 4_000_000;
        settings.limits.max_photos_per_guest = 1_000_000;
        settings.limits.max_bytes_per_guest = u64::MAX / 4;
    })
    .await;
    let (cookie, photo) = app.new_owner_with_photo("chelsea.jpg").await;
    let mut fixtures: Vec<(&str, Vec<u8>)> =
        ["chelsea.jpg", "chelsea-exif-rotated.jpg", "chelsea.png"].iter().map(|name| (*name, fixture(name))).collect();
    // libheif (C) reads HEIC and AVIF: damaged ones go through it too.
    for name in ["photo.heic", "photo.avif", "alpha.avif"] {
        fixtures.push((name, edge_fixture(name)));
    }
    let mut rng = Rng(seed);
    let (mut uploads, mut recipes, mut accepted) = (0u32, 0u32, 0u32);
    let bound = Duration::from_secs(30);
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        let (name, original) = &fixtures[rng.below(fixtures.len())];
        let mutant = mutate(&mut rng, original);
        let reply = tokio::time::timeout(bound, app.upload(Some(&cookie), name, mutant.clone()))
            .await
            .unwrap_or_else(|_| panic!("an upload of a mutated {name} hung (seed {seed})"));
        assert!(
            clean(reply.status),
            "a mutated {name} ({} bytes) got {}: {} (seed {seed})",
            mutant.len(),
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        accepted += u32::from(reply.status == StatusCode::CREATED);
        uploads += 1;

        let ops: Vec<Value> = (0..1 + rng.below(6)).map(|_| random_op(&mut rng)).collect();
        let save = json!({ "photo": photo["id"], "recipe": { "ops": ops.clone() } });
        let reply = tokio::time::timeout(bound, app.call_json("gallery/save", Some(&cookie), save))
            .await
            .unwrap_or_else(|_| panic!("saving {ops:?} hung (seed {seed})"));
        assert!(
            clean(reply.status),
            "saving {ops:?} got {}: {} (seed {seed})",
            reply.status,
            String::from_utf8_lossy(&reply.body)
        );
        recipes += 1;
    }
    println!("{uploads} mutated uploads ({accepted} accepted) and {recipes} random recipes, all clean");
    assert!(uploads > 0 && recipes > 0);
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
}
