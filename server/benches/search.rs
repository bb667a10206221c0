//! Atelier's side of the search benchmark (`bench/search`): a workspace of `SEARCH_BENCH_PHOTOS`
//! photos (10,000 by default) beside three others of 1,000, each with index words and a 384-number
//! embedding, in a real `Application` on SQLite in a temporary folder, or on Postgres when
//! `SEARCH_BENCH_POSTGRES` names a database. Times the search service as the server function
//! calls it (keywords, meaning with the real query embedding, filters, people), after one untimed
//! search that reads the vectors into memory, and prints one JSON line per query: p50, p95, max ms.

// The server's page types nest deeply (see tests/integration/main.rs).
#![recursion_limit = "256"]

use std::time::Instant;

use app::ids::{OwnerId, PhotoId};
use app::search::{SearchQuery, SearchService};
use server::config::Settings;
use server::search::vector::Packed;

const WORDS: &[&str] = &[
    "beach", "sand", "sea", "sunset", "dog", "cat", "mountain", "snow", "city", "street", "car", "bicycle", "market",
    "bread", "coffee", "cup", "table", "garden", "flower", "red", "blue", "green", "yellow", "white", "black",
    "person", "people", "face", "portrait", "group", "child", "boat", "harbour", "bridge", "river", "forest", "tree",
    "house", "window", "door", "sign", "menu", "shop", "night", "light", "rain", "cloud", "sky", "bird", "horse",
    "train", "station", "museum", "painting", "statue", "church", "tower", "castle", "wedding", "cake", "birthday",
    "party",
];

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// A small deterministic generator: the same rows every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[(self.next() as usize) % words.len()]
    }
    fn unit(&mut self) -> f32 {
        (self.next() % 2001) as f32 / 1000.0 - 1.0
    }
}

async fn fill(db: &server::platform::db::Db, owner: OwnerId, count: usize, rng: &mut Lcg) {
    let start = 1_790_000_000i64;
    for chunk in 0..count.div_ceil(500) {
        let mut tx = db.pool().begin().await.expect("a transaction");
        for index in chunk * 500..((chunk + 1) * 500).min(count) {
            let id = PhotoId(uuid::Uuid::new_v4()).to_string();
            let created = start + (index as i64) * 600;
            let caption: Vec<&str> = (0..8).map(|_| rng.pick(WORDS)).collect();
            let ocr = if index % 7 == 0 { format!("{} {}", rng.pick(WORDS), rng.pick(WORDS)) } else { String::new() };
            sqlx::query(
                "INSERT INTO photos (id, owner_id, name, content_type, width, height, byte_size, object_key,
                                     thumbnail_key, created_at, moderation, alt_text, ocr_text)
                 VALUES ($1, $2, $3, 'image/jpeg', 4000, 3000, 1000, $4, $5, $6, 'clear', $7, $8)",
            )
            .bind(&id)
            .bind(owner.to_string())
            .bind(format!("IMG_{index:05}.jpg"))
            .bind(format!("bench/{id}"))
            .bind(format!("bench/{id}.thumb"))
            .bind(created)
            .bind(caption.join(" "))
            .bind(&ocr)
            .execute(&mut *tx)
            .await
            .expect("a photo row");
            let vector = ai::embed::normalised((0..ai::embed::DIMENSIONS).map(|_| rng.unit()).collect());
            sqlx::query(
                "INSERT INTO photo_index (photo_id, owner_id, words, embedding, faces, indexed_at)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&id)
            .bind(owner.to_string())
            .bind(format!("img {index:05} {} {ocr} 2026 november", caption.join(" ")))
            .bind(Packed::pack(&vector).to_text())
            .bind(i64::from(index % 5 == 0))
            .bind(created * 1000)
            .execute(&mut *tx)
            .await
            .expect("an index row");
        }
        tx.commit().await.expect("committed");
    }
}

#[tokio::main]
async fn main() {
    let photos: usize = setting("SEARCH_BENCH_PHOTOS").and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let runs: usize = setting("SEARCH_BENCH_RUNS").and_then(|v| v.parse().ok()).unwrap_or(30).max(1);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let mut settings = Settings::default();
    settings.server.addr = "127.0.0.1:0".parse().expect("an address");
    settings.server.log_filter = "warn".into();
    settings.storage.data_dir = dir.path().join("data");
    settings.storage.key_file = dir.path().join("keys/keyring");
    settings.ai.models_dir = setting("ATELIER_MODELS_DIR")
        .map_or_else(|| concat!(env!("CARGO_MANIFEST_DIR"), "/../models").into(), Into::into);
    settings.ai.ai_workers = 0;
    let database = match setting("SEARCH_BENCH_POSTGRES") {
        Some(url) => {
            settings.storage.database_url = Some(url.into());
            "postgres"
        }
        None => "sqlite",
    };
    let app = server::Application::build(settings).await.expect("the application builds");
    let ai = app.ai();
    let db = ai.db.clone();
    if database == "postgres" {
        // A clean slate: the rows of an earlier run would be searched too.
        for table in ["photo_index", "photos", "owners"] {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE 1 = 1"))).execute(db.pool()).await.ok();
        }
    }
    let mut rng = Lcg(21);
    let owner = OwnerId(uuid::Uuid::new_v4());
    db.insert_guest_owner(owner).await.expect("an owner");
    let loading = Instant::now();
    fill(&db, owner, photos, &mut rng).await;
    for _ in 0..3 {
        let other = OwnerId(uuid::Uuid::new_v4());
        db.insert_guest_owner(other).await.expect("an owner");
        fill(&db, other, 1_000, &mut rng).await;
    }
    if database == "postgres" {
        // As autovacuum leaves a table that settled: the rows deleted above gone from the indexes.
        sqlx::query("VACUUM ANALYZE").execute(db.pool()).await.ok();
    }
    eprintln!("{} rows written in {:.1} s", photos + 3_000, loading.elapsed().as_secs_f64());

    let search = server::search::SearchStore::new(ai.clone());
    let queries: Vec<(&str, SearchQuery)> = vec![
        ("one word", SearchQuery { text: "beach".into(), ..SearchQuery::default() }),
        ("two words, typed", SearchQuery { text: "sunset bea".into(), ..SearchQuery::default() }),
        ("a sentence (meaning)", SearchQuery { text: "a dog playing in the snow".into(), ..SearchQuery::default() }),
        (
            "words + filters",
            SearchQuery { text: "coffee".into(), has_faces: true, from: "2026-01-01".into(), ..SearchQuery::default() },
        ),
        ("filters only", SearchQuery { has_text: true, ..SearchQuery::default() }),
        ("nothing matches", SearchQuery { text: "zzyzx".into(), ..SearchQuery::default() }),
    ];
    // Untimed: reads the vectors into memory and loads the embedding model, as a first search does.
    let first = Instant::now();
    search.search(owner, queries[0].1.clone()).await.expect("a first search");
    let cold_ms = first.elapsed().as_secs_f64() * 1000.0;
    println!(
        "{}",
        serde_json::json!({ "database": database, "photos": photos, "query": "first search (cold)", "p50_ms": cold_ms, "p95_ms": cold_ms, "max_ms": cold_ms, "hits": 0 })
    );
    for (name, query) in queries {
        let mut times = Vec::with_capacity(runs);
        let mut hits = 0;
        for _ in 0..runs {
            let started = Instant::now();
            let found = search.search(owner, query.clone()).await.expect("a search");
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            hits = found.hits.len();
        }
        times.sort_by(f64::total_cmp);
        let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        println!(
            "{}",
            serde_json::json!({
                "database": database, "photos": photos, "query": name,
                "p50_ms": at(0.5), "p95_ms": at(0.95), "max_ms": at(1.0), "hits": hits,
            })
        );
    }
}
