//! The search index's queries: `photo_index` rows, the full-text index over their words (FTS5 on
//! SQLite, a GIN index of `to_tsvector` on Postgres) and the filters.
//!
//! The SQL built here joins only fixed fragments and numbered placeholders: every value the person
//! gave is bound (`AssertSqlSafe` marks those audited strings).

use std::collections::HashSet;

use app::ids::{OwnerId, PhotoId};
use app::photos::PhotoSummary;
use app::search::Saved;
use sqlx::any::AnyRow;
use sqlx::{AnyPool, Row};

use crate::platform::db::{parse_id, Db};
use crate::search::vector::Packed;

/// SQLite's full-text table: `words` indexed, and the owner as one token of its own column, so
/// a query reads only that owner's postings. Triggers keep it equal to `photo_index`.
const SQLITE_FULL_TEXT: &[&str] = &[
    "CREATE VIRTUAL TABLE IF NOT EXISTS photo_words USING fts5(
         words, owner, photo_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS photo_words_insert AFTER INSERT ON photo_index BEGIN
         INSERT INTO photo_words (words, owner, photo_id) VALUES (new.words, 'o' || replace(new.owner_id, '-', ''), new.photo_id);
     END",
    // Any column: a workspace adopted by an account changes the owner.
    "CREATE TRIGGER IF NOT EXISTS photo_words_update AFTER UPDATE ON photo_index BEGIN
         DELETE FROM photo_words WHERE photo_id = old.photo_id;
         INSERT INTO photo_words (words, owner, photo_id) VALUES (new.words, 'o' || replace(new.owner_id, '-', ''), new.photo_id);
     END",
    "CREATE TRIGGER IF NOT EXISTS photo_words_delete AFTER DELETE ON photo_index BEGIN
         DELETE FROM photo_words WHERE photo_id = old.photo_id;
     END",
];
const POSTGRES_FULL_TEXT: &[&str] =
    &["CREATE INDEX IF NOT EXISTS photo_index_words ON photo_index USING GIN (to_tsvector('simple', words))"];

/// Makes the full-text index the portable migrations cannot (each database has its own kind);
/// run after the migrations at every start, idempotent. On Postgres under an advisory lock, so
/// processes starting together on one database do not race to make the same index (SQLite runs
/// one schema change at a time by itself).
pub async fn create_full_text_index(pool: &AnyPool, postgres: bool) -> Result<(), sqlx::Error> {
    // Any number of Atelier's own: it only has to be the same in every process.
    const LOCK: &str = "SELECT pg_advisory_lock(2021120721)";
    const UNLOCK: &str = "SELECT pg_advisory_unlock(2021120721)";
    let mut connection = pool.acquire().await?;
    if postgres {
        sqlx::query(LOCK).execute(&mut *connection).await?;
    }
    let mut made = Ok(());
    for statement in if postgres { POSTGRES_FULL_TEXT } else { SQLITE_FULL_TEXT } {
        made = sqlx::query(*statement).execute(&mut *connection).await.map(|_| ());
        if made.is_err() {
            break;
        }
    }
    if postgres {
        sqlx::query(UNLOCK).execute(&mut *connection).await?;
    }
    made
}

/// The filters as SQL over `photos p` and `photo_index i` (left-joined), with their values.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub from: Option<i64>,
    /// Exclusive.
    pub until: Option<i64>,
    pub saved: Saved,
    pub has_faces: bool,
    pub has_text: bool,
}

impl Filter {
    pub fn is_empty(&self) -> bool {
        self.from.is_none() && self.until.is_none() && self.saved == Saved::Any && !self.has_faces && !self.has_text
    }

    /// The conditions, numbering placeholders from `next`, and the values to bind in order.
    fn sql(&self, mut next: usize) -> (String, Vec<i64>) {
        // A photo held by moderation cannot be opened, so it is not offered either.
        let mut sql = String::from(" AND p.moderation <> 'held'");
        let mut values = Vec::new();
        // The capture date when the camera gave one, else the upload's.
        for (bound, op) in [(self.from, ">="), (self.until, "<")] {
            if let Some(bound) = bound {
                sql.push_str(&format!(" AND COALESCE(p.taken_at, p.created_at) {op} ${next}"));
                values.push(bound);
                next += 1;
            }
        }
        match self.saved {
            Saved::Any => {}
            Saved::Saved => sql.push_str(" AND EXISTS (SELECT 1 FROM versions v WHERE v.photo_id = p.id)"),
            Saved::Unsaved => sql.push_str(" AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.photo_id = p.id)"),
        }
        if self.has_faces {
            sql.push_str(" AND i.faces > 0");
        }
        if self.has_text {
            sql.push_str(" AND p.ocr_text IS NOT NULL AND p.ocr_text <> ''");
        }
        (sql, values)
    }
}

/// What the index job reads of a photo.
pub struct Source {
    pub name: String,
    pub tags: Vec<String>,
    pub alt_text: Option<String>,
    pub ocr_text: Option<String>,
    pub created_at: i64,
    pub taken_at: Option<i64>,
}

/// One photo's row of the index.
pub struct Entry {
    pub photo: PhotoId,
    pub owner: OwnerId,
    pub words: String,
    pub embedding: Option<Packed>,
    pub faces: i64,
}

/// A photo found, with what the result card needs.
pub struct Found {
    pub summary: PhotoSummary,
    pub saved: bool,
}

/// The owner's token in SQLite's full-text table (`photo_words.owner`).
fn owner_token(owner: OwnerId) -> String {
    format!("o{}", owner.0.simple())
}

/// Unix milliseconds: the index's clock, finer than the seconds elsewhere, so two changes in one
/// second still tell the vector cache that something changed.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl Db {
    /// Up to `limit` of the owner's photos the index lacks or holds out of date (`indexed_at`
    /// 0), oldest first.
    pub async fn photos_to_index(&self, owner: OwnerId, limit: i64) -> Result<Vec<PhotoId>, sqlx::Error> {
        sqlx::query(
            "SELECT p.id FROM photos p LEFT JOIN photo_index i ON i.photo_id = p.id
             WHERE p.owner_id = $1 AND (i.photo_id IS NULL OR i.indexed_at = 0)
             ORDER BY p.created_at, p.id LIMIT $2",
        )
        .bind(owner.to_string())
        .bind(limit)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| parse_id(row, "id"))
        .collect()
    }

    /// Whether a job someone asked for is due (any workspace's): the index job then lets it run.
    pub async fn tools_waiting(&self) -> Result<bool, sqlx::Error> {
        let row = sqlx::query(
            "SELECT 1 AS one FROM jobs WHERE state = 'queued' AND run_after <= $1 AND photo_id <> owner_id LIMIT 1",
        )
        .bind(crate::platform::db::now())
        .fetch_optional(self.pool())
        .await?;
        Ok(row.is_some())
    }

    /// How many of the owner's photos are not in the index yet.
    pub async fn photos_not_indexed(&self, owner: OwnerId) -> Result<u64, sqlx::Error> {
        // Two counts over the owner indexes: no join of every photo with its entry.
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM photos WHERE owner_id = $1)
                  - (SELECT COUNT(*) FROM photo_index WHERE owner_id = $1) AS n",
        )
        .bind(owner.to_string())
        .fetch_one(self.pool())
        .await?;
        Ok(u64::try_from(row.try_get::<i64, _>("n")?).unwrap_or(0))
    }

    /// Marks a photo's index entry out of date (its description or text changed): it keeps being
    /// found by its old words until the job has read the new ones.
    pub async fn mark_index_stale(&self, owner: OwnerId, photo: PhotoId) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE photo_index SET indexed_at = 0 WHERE photo_id = $1 AND owner_id = $2")
            .bind(photo.to_string())
            .bind(owner.to_string())
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn index_source(&self, owner: OwnerId, photo: PhotoId) -> Result<Option<Source>, sqlx::Error> {
        let Some(row) = sqlx::query(
            "SELECT name, tags, alt_text, ocr_text, created_at, taken_at FROM photos WHERE id = $1 AND owner_id = $2",
        )
        .bind(photo.to_string())
        .bind(owner.to_string())
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let tags: Option<String> = row.try_get("tags")?;
        Ok(Some(Source {
            name: row.try_get("name")?,
            tags: tags.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
            alt_text: row.try_get("alt_text")?,
            ocr_text: row.try_get("ocr_text")?,
            created_at: row.try_get("created_at")?,
            taken_at: row.try_get("taken_at")?,
        }))
    }

    /// Writes a photo's entry, unless the photo was deleted meanwhile (then nothing is written:
    /// the entry must not outlive it). True when written.
    pub async fn store_index(&self, entry: &Entry) -> Result<bool, sqlx::Error> {
        let (photo, owner) = (entry.photo.to_string(), entry.owner.to_string());
        let embedding = entry.embedding.as_ref().map(Packed::to_text);
        let at = now_ms();
        let mut tx = self.pool().begin().await?;
        let updated = sqlx::query(
            "UPDATE photo_index SET words = $1, embedding = $2, faces = $3, indexed_at = $4
             WHERE photo_id = $5 AND owner_id = $6",
        )
        .bind(&entry.words)
        .bind(&embedding)
        .bind(entry.faces)
        .bind(at)
        .bind(&photo)
        .bind(&owner)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        let written = if updated == 1 {
            true
        } else {
            sqlx::query(
                "INSERT INTO photo_index (photo_id, owner_id, words, embedding, faces, indexed_at)
                 SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM photos WHERE id = $1 AND owner_id = $2)",
            )
            .bind(&photo)
            .bind(&owner)
            .bind(&entry.words)
            .bind(&embedding)
            .bind(entry.faces)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1
        };
        tx.commit().await?;
        Ok(written)
    }

    /// The owner's photos whose words start with every term, best first (BM25 on SQLite,
    /// `ts_rank` on Postgres), at most `limit`. Terms are letters and digits only (see
    /// `search::terms`), so neither query language sees an operator from the person.
    pub async fn keyword_matches(
        &self,
        owner: OwnerId,
        terms: &[String],
        filter: &Filter,
        limit: i64,
    ) -> Result<Vec<PhotoId>, sqlx::Error> {
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let (conditions, values) = filter.sql(4);
        let (sql, query) = if self.postgres {
            let query = terms.iter().map(|t| format!("'{t}':*")).collect::<Vec<_>>().join(" & ");
            let sql = format!(
                "SELECT p.id FROM photo_index i JOIN photos p ON p.id = i.photo_id
                 WHERE to_tsvector('simple', i.words) @@ to_tsquery('simple', $1) AND i.owner_id = $2 {conditions}
                 ORDER BY ts_rank(to_tsvector('simple', i.words), to_tsquery('simple', $1)) DESC, p.created_at DESC
                 LIMIT $3"
            );
            (sql, query)
        } else {
            let words = terms.iter().map(|t| format!("words : \"{t}\"*")).collect::<Vec<_>>().join(" AND ");
            let query = format!("owner : \"{}\" AND {words}", owner_token(owner));
            // CROSS JOIN keeps the full-text match the outer loop: with filters, SQLite's planner
            // would otherwise walk the photos and run the match once for each (seconds, not ms).
            let sql = format!(
                "SELECT p.id FROM photo_words CROSS JOIN photos p ON p.id = photo_words.photo_id
                 LEFT JOIN photo_index i ON i.photo_id = p.id
                 WHERE photo_words MATCH $1 AND p.owner_id = $2 {conditions}
                 ORDER BY bm25(photo_words), p.created_at DESC LIMIT $3"
            );
            (sql, query)
        };
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(query).bind(owner.to_string()).bind(limit);
        for value in values {
            statement = statement.bind(value);
        }
        statement.fetch_all(self.pool()).await?.iter().map(|row| parse_id(row, "id")).collect()
    }

    /// The owner's photos with a face of a person they named with one of the terms ("anna" or
    /// "ann" finds Anna), newest first. Empty while People is off: there are no faces then.
    pub async fn photos_of_named(
        &self,
        owner: OwnerId,
        terms: &[String],
        filter: &Filter,
        limit: i64,
    ) -> Result<Vec<PhotoId>, sqlx::Error> {
        let named = sqlx::query("SELECT id, name FROM people WHERE owner_id = $1 AND name IS NOT NULL")
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?;
        let mut people = Vec::new();
        for row in &named {
            let name: String = row.try_get("name")?;
            let words = ai::embed::words(&name);
            let named = terms.iter().any(|term| {
                words.iter().any(|word| word == term || (term.chars().count() >= 3 && word.starts_with(term.as_str())))
            });
            if named {
                people.push(row.try_get::<String, _>("id")?);
            }
        }
        if people.is_empty() {
            return Ok(Vec::new());
        }
        people.truncate(100);
        let (conditions, values) = filter.sql(3 + people.len());
        let sql = format!(
            "SELECT p.id, MAX(p.created_at) AS at FROM faces f JOIN photos p ON p.id = f.photo_id
             LEFT JOIN photo_index i ON i.photo_id = p.id
             WHERE f.owner_id = $1 AND f.person_id IN ({}) {conditions}
             GROUP BY p.id ORDER BY at DESC LIMIT $2",
            placeholders(3, people.len())
        );
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner.to_string()).bind(limit);
        for person in people {
            statement = statement.bind(person);
        }
        for value in values {
            statement = statement.bind(value);
        }
        statement.fetch_all(self.pool()).await?.iter().map(|row| parse_id(row, "id")).collect()
    }

    /// The owner's photos passing `filter`, newest first, at most `limit`.
    pub async fn filtered(&self, owner: OwnerId, filter: &Filter, limit: i64) -> Result<Vec<PhotoId>, sqlx::Error> {
        let (conditions, values) = filter.sql(3);
        let sql = format!(
            "SELECT p.id FROM photos p LEFT JOIN photo_index i ON i.photo_id = p.id
             WHERE p.owner_id = $1 {conditions} ORDER BY p.created_at DESC, p.id LIMIT $2"
        );
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner.to_string()).bind(limit);
        for value in values {
            statement = statement.bind(value);
        }
        statement.fetch_all(self.pool()).await?.iter().map(|row| parse_id(row, "id")).collect()
    }

    /// What tells whether the owner's vectors changed: how many entries, and the latest write.
    pub async fn index_stamp(&self, owner: OwnerId) -> Result<(i64, i64), sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n, MAX(indexed_at) AS at FROM photo_index WHERE owner_id = $1")
            .bind(owner.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok((row.try_get("n")?, row.try_get::<Option<i64>, _>("at")?.unwrap_or(0)))
    }

    /// Every embedding of the owner's photos (a broken one is skipped, never an error).
    pub async fn owner_vectors(&self, owner: OwnerId) -> Result<Vec<(PhotoId, Packed)>, sqlx::Error> {
        let rows =
            sqlx::query("SELECT photo_id, embedding FROM photo_index WHERE owner_id = $1 AND embedding IS NOT NULL")
                .bind(owner.to_string())
                .fetch_all(self.pool())
                .await?;
        let mut vectors = Vec::with_capacity(rows.len());
        for row in &rows {
            let text: String = row.try_get("embedding")?;
            if let Some(packed) = Packed::from_text(&text) {
                vectors.push((parse_id(row, "photo_id")?, packed));
            }
        }
        Ok(vectors)
    }

    /// The ids among `ids` that pass the filter (for results by meaning, which come from memory).
    pub async fn passing(
        &self,
        owner: OwnerId,
        ids: &[PhotoId],
        filter: &Filter,
    ) -> Result<HashSet<PhotoId>, sqlx::Error> {
        let mut passing = HashSet::new();
        for chunk in ids.chunks(500) {
            let list = placeholders(2, chunk.len());
            let (conditions, values) = filter.sql(2 + chunk.len());
            let sql = format!(
                "SELECT p.id FROM photos p LEFT JOIN photo_index i ON i.photo_id = p.id
                 WHERE p.owner_id = $1 AND p.id IN ({list}) {conditions}"
            );
            let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner.to_string());
            for id in chunk {
                statement = statement.bind(id.to_string());
            }
            for value in values {
                statement = statement.bind(value);
            }
            for row in statement.fetch_all(self.pool()).await? {
                passing.insert(parse_id(&row, "id")?);
            }
        }
        Ok(passing)
    }

    /// The owner's index entries for "Download my data": words, faces counted and the embedding
    /// as the 384 numbers it stands for.
    pub async fn search_records(&self, owner: OwnerId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT photo_id, words, embedding, faces, indexed_at FROM photo_index WHERE owner_id = $1 ORDER BY photo_id",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let embedding: Option<String> = row.try_get("embedding")?;
                let vector = embedding.as_deref().and_then(Packed::from_text).map(|p| p.values());
                Ok(serde_json::json!({
                    "photo_id": row.try_get::<String, _>("photo_id")?,
                    "words": row.try_get::<String, _>("words")?,
                    "faces": row.try_get::<i64, _>("faces")?,
                    "embedding": vector,
                    "indexed_at_ms": row.try_get::<i64, _>("indexed_at")?,
                }))
            })
            .collect()
    }

    /// The owner's photos among `ids`, in no particular order.
    pub async fn found(&self, owner: OwnerId, ids: &[PhotoId]) -> Result<Vec<Found>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT p.id, p.name, p.width, p.height, p.created_at, p.moderation, p.alt_text, p.tags, p.ocr_text,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM versions v WHERE v.photo_id = p.id) THEN 1 ELSE 0 END AS BIGINT) AS saved
             FROM photos p WHERE p.owner_id = $1 AND p.id IN ({})",
            placeholders(2, ids.len())
        );
        let mut statement = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner.to_string());
        for id in ids {
            statement = statement.bind(id.to_string());
        }
        statement.fetch_all(self.pool()).await?.iter().map(found).collect()
    }
}

fn found(row: &AnyRow) -> Result<Found, sqlx::Error> {
    Ok(Found { summary: crate::photos::repo::photo_summary(row)?, saved: row.try_get::<i64, _>("saved")? != 0 })
}

/// "$from, $from+1, …" for an IN list of `count` values.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}
