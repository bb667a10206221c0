//! Atelier's side of the batch benchmark (`bench/batch`): `BATCH_BENCH_PHOTOS` photos of 12 MP
//! through "remove background → white backdrop with shadow → 2000 px JPEG ≤ 1 MB" with the
//! installed models on CPU, in a real `Application` on SQLite in a temporary folder.
//!
//! `BATCH_BENCH_MODE=batch`: one batch on the durable queue, `BATCH_BENCH_WORKERS` workers.
//! `BATCH_BENCH_MODE=direct`: the same steps one by one on one thread — the same tools' `run`, the
//! same export, the result stored — without the queue, so the difference is what batching costs.
//! Prints one JSON line: seconds, photos per minute, and the process's peak resident memory
//! while the photos ran (the peak is reset after the uploads).

use std::time::Instant;

use app::ai_tools::{Backdrop, Scene, ToolRequest};
use app::batch::{BatchService, Pipeline, PipelineChoice, Step};
use app::ids::PhotoId;
use app::optimize::ExportSettings;
use app::photos::PhotoService;
use server::ai_tools::tools::{self, Produced, Work};
use server::config::Settings;
use server::platform::images;

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn pipeline() -> Pipeline {
    Pipeline {
        name: "Marketplace white".into(),
        steps: vec![
            Step::Tool {
                request: ToolRequest::RemoveBackground {
                    portrait: false,
                    backdrop: Backdrop::Transparent,
                    refine: false,
                    feather: 0.0,
                },
            },
            Step::Tool {
                request: ToolRequest::ProductScene {
                    scene: Scene { width: 2000, height: 2000, contact_shadow: 0.35, ..Scene::default() },
                },
            },
            Step::Export {
                settings: ExportSettings { max_side: Some(2000), target_kb: Some(1024), ..ExportSettings::default() },
            },
        ],
    }
}

/// A 4000×3000 product shot: a lit bottle-like shape on a soft grey sweep, with noise so the JPEG
/// weighs what a photo does.
fn product_photo() -> Vec<u8> {
    let mut seed = 7u32;
    let image = image::RgbImage::from_fn(4000, 3000, |x, y| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        let noise = (seed >> 28) as i32 - 8;
        let (dx, dy) = (x as f32 - 2000.0, y as f32 - 1600.0);
        let inside = (dx / 600.0).powi(2) + (dy / 1100.0).powi(2) <= 1.0;
        let base = if inside {
            [(170.0 + dx / 20.0) as i32, 40, 50]
        } else {
            let v = 200 + (y / 60) as i32;
            [v, v, v + 4]
        };
        image::Rgb(base.map(|c| (c + noise).clamp(0, 255) as u8))
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90).encode_image(&image).expect("encoded");
    out
}

/// The process's peak resident set (VmHWM), in MB.
fn peak_rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let photos: usize = setting("BATCH_BENCH_PHOTOS").and_then(|v| v.parse().ok()).unwrap_or(20);
    let workers: usize = setting("BATCH_BENCH_WORKERS").and_then(|v| v.parse().ok()).unwrap_or(2).max(1);
    let mode = setting("BATCH_BENCH_MODE").unwrap_or_else(|| "batch".into());
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut settings = Settings::default();
    settings.server.addr = "127.0.0.1:0".parse().expect("an address");
    settings.server.log_filter = "warn".into();
    settings.storage.data_dir = dir.path().join("data");
    settings.storage.key_file = dir.path().join("keys/keyring");
    settings.ai.models_dir = setting("ATELIER_MODELS_DIR")
        .map_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../models").into(), Into::into);
    settings.ai.ai_workers = 0;
    settings.limits.max_photos_per_guest = 10_000;
    settings.limits.max_bytes_per_guest = u64::MAX / 4;
    let app = server::Application::build(settings).await.expect("the application builds");
    let ai = app.ai();
    let store = ai.photos.clone();

    // The uploads, as the upload route makes them (not timed).
    let input = bytes::Bytes::from(product_photo());
    let owner = store.guest_owner(None).await.expect("a workspace");
    let mut ids: Vec<PhotoId> = Vec::new();
    for index in 0..photos {
        let ingested = store.ingest(input.clone()).await.expect("ingested");
        let meter = server::data::usage::Meter::start();
        ids.push(store.store(owner, &format!("product-{index}.jpg"), ingested, meter).await.expect("stored").id);
    }
    // The peak from here on (Linux: writing 5 to clear_refs resets VmHWM).
    let _ = std::fs::write("/proc/self/clear_refs", "5");

    let started = Instant::now();
    match mode.as_str() {
        "direct" => {
            let engine = ai.engine.clone().expect("the models are installed");
            let steps = pipeline().steps;
            for id in &ids {
                let (_, stored) = store.db.photo(owner, *id).await.expect("read").expect("there");
                let bytes = store.storage.get(&stored.object_key).await.expect("read");
                let (engine, steps) = (engine.clone(), steps.clone());
                let encoded = tokio::task::spawn_blocking(move || {
                    let mut image = images::decode(&bytes, 100_000_000).expect("decoded");
                    let mut out = None;
                    for step in steps {
                        match step {
                            Step::Tool { request } => {
                                let (rgb, alpha) = tools::split_alpha(&image);
                                let work = Work {
                                    engine: &engine,
                                    image: rgb,
                                    alpha,
                                    request: request.clone(),
                                    inputs: Default::default(),
                                    progress: &ai::Quiet,
                                    max_pixels: 100_000_000,
                                    max_upscale_pixels: 100_000_000,
                                };
                                let Ok((Produced::Image(next), _)) = tools::tool(request.kind()).run(work) else {
                                    panic!("the tool ran")
                                };
                                image = next;
                            }
                            Step::Export { settings } => {
                                out = Some(
                                    server::optimize::export(&image, None, &settings, None, None).expect("exported"),
                                );
                            }
                            Step::Edit { .. } => unreachable!("no edit step in this pipeline"),
                        }
                    }
                    let out = out.expect("an export");
                    let shown = images::decode(&out.data, u64::MAX).expect("decodes");
                    (out.data, images::thumbnail(&shown).expect("thumbnail"))
                })
                .await
                .expect("the steps ran");
                let key = format!("bench/{id}");
                store.storage.put(&key, encoded.0).await.expect("stored");
                store.storage.put(&format!("{key}-thumbnail"), encoded.1).await.expect("stored");
            }
        }
        _ => {
            let batches = server::batch::BatchStore { ai: ai.clone() };
            let choice = PipelineChoice::Unsaved { pipeline: pipeline() };
            let batch = batches.run(owner, choice, ids.clone(), false, false).await.expect("queued");
            server::ai_tools::spawn_workers(ai.clone(), workers);
            loop {
                let (counts, _) = ai.db.batch_counts(batch.id).await.expect("counted");
                if counts.finished() {
                    assert_eq!(counts.done as usize, photos, "every photo done: {counts:?}");
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({
            "mode": mode, "photos": photos, "workers": if mode == "direct" { 1 } else { workers },
            "secs": secs, "photos_per_min": photos as f64 * 60.0 / secs, "peak_rss_mb": peak_rss_mb(),
        })
    );
}
