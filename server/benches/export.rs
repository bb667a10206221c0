//! Atelier's side of the export benchmark (`bench/export`): the server's own functions for each
//! task on one input JPEG, in a loop on `EXPORT_BENCH_WORKERS` threads for about
//! `EXPORT_BENCH_SECS` seconds. Prints one JSON line `{"<task>": {"ops_per_s": …, "bytes": …}}`
//! and leaves each task's last output in `EXPORT_BENCH_OUT` for the quality score.
//!
//! Tasks: `ingest` (the image work of an upload: validating full decode, metadata stripped at the
//! container level, sRGB, 360 px thumbnail, both written to disk), and `jpeg` (mozjpeg),
//! `jpeg-fast` (the fast encoder), `webp`, `avif` (the export route's work: decode no larger than
//! needed, Lanczos3 to 1200 px, encode at q80; AVIF at aom speed 6). With one worker it also
//! leaves each lossy task's output at every quality of `QUALITIES` as `atelier-TASK-qQ.EXT`, for
//! the sizes at equal quality.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use app::optimize::{ExportFormat, ExportSettings};
use server::optimize::export_bytes;
use server::platform::images;

const MAX_PIXELS: u64 = 100_000_000;
/// The same as bench/export_reference.py's.
const QUALITIES: [u8; 8] = [50, 60, 70, 75, 80, 85, 90, 95];

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn ingest(bytes: &[u8], out: &std::path::Path, worker: usize) -> Vec<u8> {
    let decoded = images::decode_file(bytes, MAX_PIXELS).expect("the input decodes");
    let (_, kept) = images::keep_original(bytes, &decoded).expect("kept");
    let thumbnail = images::thumbnail(&decoded.into_srgb()).expect("thumbnail");
    std::fs::write(out.join(format!("ingest-{worker}.original")), &kept).expect("written");
    std::fs::write(out.join(format!("ingest-{worker}.thumbnail.jpg")), &thumbnail).expect("written");
    thumbnail
}

fn main() {
    let input = PathBuf::from(setting("EXPORT_BENCH_INPUT").expect("EXPORT_BENCH_INPUT names the input JPEG"));
    let out = PathBuf::from(setting("EXPORT_BENCH_OUT").expect("EXPORT_BENCH_OUT names a folder"));
    let workers: usize = setting("EXPORT_BENCH_WORKERS").and_then(|w| w.parse().ok()).unwrap_or(1).max(1);
    let secs: f64 = setting("EXPORT_BENCH_SECS").and_then(|s| s.parse().ok()).unwrap_or(8.0);
    let bytes = std::fs::read(&input).expect("the input is readable");
    std::fs::create_dir_all(&out).expect("the output folder");

    let export = |format: ExportFormat| ExportSettings {
        format,
        quality: 80,
        speed: 6,
        max_side: Some(1200),
        ..ExportSettings::default()
    };
    let tasks: Vec<(&str, &str, Option<ExportSettings>)> = vec![
        ("ingest", "jpg", None),
        ("jpeg", "jpg", Some(export(ExportFormat::Jpeg))),
        ("jpeg-fast", "jpg", Some(ExportSettings { fast: true, ..export(ExportFormat::Jpeg) })),
        ("webp", "webp", Some(export(ExportFormat::Webp))),
        ("avif", "avif", Some(export(ExportFormat::Avif))),
    ];
    let mut results = serde_json::Map::new();
    for (name, extension, settings) in &tasks {
        let run = |worker: usize| match settings {
            None => ingest(&bytes, &out, worker),
            Some(settings) => export_bytes(&bytes, MAX_PIXELS, settings, None, None).expect("the export succeeds").data,
        };
        let sample = run(0); // warm-up, and the file the quality score reads
        std::fs::write(out.join(format!("atelier-{name}.{extension}")), &sample).expect("written");
        let done = AtomicU64::new(0);
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(secs);
        std::thread::scope(|scope| {
            for worker in 0..workers {
                let (done, run) = (&done, &run);
                scope.spawn(move || {
                    // At least two each, so a slow task still gives a rate.
                    let mut mine = 0;
                    while mine < 2 || Instant::now() < deadline {
                        std::hint::black_box(run(worker));
                        mine += 1;
                    }
                    done.fetch_add(mine, Ordering::Relaxed);
                });
            }
        });
        let ops_per_s = done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
        results.insert((*name).into(), serde_json::json!({ "ops_per_s": ops_per_s, "bytes": sample.len() }));
        eprintln!("atelier {name}: {ops_per_s:.2} ops/s with {workers} worker(s), {} bytes", sample.len());
    }
    if workers == 1 {
        for (name, extension, settings) in &tasks {
            for quality in QUALITIES {
                let Some(settings) = settings else { continue };
                let settings = ExportSettings { quality, ..settings.clone() };
                let file = export_bytes(&bytes, MAX_PIXELS, &settings, None, None).expect("the export succeeds").data;
                std::fs::write(out.join(format!("atelier-{name}-q{quality}.{extension}")), &file).expect("written");
            }
        }
    }
    println!("{}", serde_json::Value::Object(results));
}
