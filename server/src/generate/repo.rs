//! The studio's queries: runs (with their job's state while the queue knows it), the photos they
//! made, templates, and their export, deletion and expiry. Every read is scoped by owner.

use app::generate::{GenerateRequest, PromptTemplate, MAX_TEMPLATES};
use app::ids::{GenerationId, JobState, OwnerId, PhotoId, TemplateId};
use app::photos::PhotoSummary;
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::photos::repo::photo_summary;
use crate::platform::db::{now, parse_id, Db};

/// A run as stored, with its job's state when the job still exists.
pub struct GenerationRow {
    pub id: GenerationId,
    pub request: GenerateRequest,
    pub provider: String,
    pub model: Option<String>,
    pub seed: Option<u32>,
    pub width: u32,
    pub height: u32,
    pub created_at: i64,
    pub state: Option<JobState>,
    pub progress: f32,
    pub error: Option<String>,
}

pub struct NewGeneration<'a> {
    pub id: GenerationId,
    pub owner: OwnerId,
    pub request: &'a GenerateRequest,
    pub model: Option<&'a str>,
    pub seed: Option<u32>,
    pub size: (u32, u32),
}

const SELECT_RUNS: &str = "SELECT g.id, g.request, g.provider, g.model, g.seed, g.width, g.height, g.created_at,
                                  j.state, j.progress, j.error
                           FROM generations g LEFT JOIN jobs j ON j.id = g.id";

fn run_row(row: &AnyRow) -> Result<GenerationRow, sqlx::Error> {
    let request: String = row.try_get("request")?;
    let request =
        serde_json::from_str(&request).map_err(|e| sqlx::Error::Decode(format!("stored request: {e}").into()))?;
    let size = |column: &str| -> Result<u32, sqlx::Error> {
        u32::try_from(row.try_get::<i64, _>(column)?).map_err(|_| sqlx::Error::Decode(column.to_string().into()))
    };
    Ok(GenerationRow {
        id: parse_id(row, "id")?,
        request,
        provider: row.try_get("provider")?,
        model: row.try_get("model")?,
        seed: row.try_get::<Option<i64>, _>("seed")?.and_then(|s| u32::try_from(s).ok()),
        width: size("width")?,
        height: size("height")?,
        created_at: row.try_get("created_at")?,
        state: row.try_get::<Option<String>, _>("state")?.and_then(|s| JobState::parse(&s)),
        progress: row.try_get::<Option<i64>, _>("progress")?.unwrap_or(0) as f32 / 1000.0,
        error: row.try_get("error")?,
    })
}

/// `%word%` for LIKE, with LIKE's own wildcards taken literally.
fn like(word: &str) -> String {
    let escaped = word.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

impl Db {
    pub async fn insert_generation(&self, new: &NewGeneration<'_>) -> Result<(), sqlx::Error> {
        let request = serde_json::to_string(new.request).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let search = format!("{}\n{}", new.request.prompt, new.request.negative_prompt).to_lowercase();
        sqlx::query(
            "INSERT INTO generations (id, owner_id, request, search, provider, model, seed, width, height, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(new.id.to_string())
        .bind(new.owner.to_string())
        .bind(request)
        .bind(search)
        .bind(&new.request.provider)
        .bind(new.model)
        .bind(new.seed.map(i64::from))
        .bind(i64::from(new.size.0))
        .bind(i64::from(new.size.1))
        .bind(now())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// The owner's runs, newest first, at most 100; every word of `search` must appear in the
    /// prompt or negative prompt.
    pub async fn generations(&self, owner: OwnerId, search: &str) -> Result<Vec<GenerationRow>, sqlx::Error> {
        self.generations_up_to(owner, search, 100).await
    }

    async fn generations_up_to(
        &self,
        owner: OwnerId,
        search: &str,
        limit: i64,
    ) -> Result<Vec<GenerationRow>, sqlx::Error> {
        let words: Vec<String> = search.to_lowercase().split_whitespace().take(8).map(like).collect();
        let mut sql = format!("{SELECT_RUNS} WHERE g.owner_id = $1");
        for index in 0..words.len() {
            sql.push_str(&format!(" AND g.search LIKE ${} ESCAPE '\\'", index + 2));
        }
        sql.push_str(&format!(" ORDER BY g.created_at DESC, g.id DESC LIMIT ${}", words.len() + 2));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner.to_string());
        for word in words {
            query = query.bind(word);
        }
        query = query.bind(limit);
        query.fetch_all(self.pool()).await?.iter().map(run_row).collect()
    }

    pub async fn generation(&self, owner: OwnerId, id: GenerationId) -> Result<Option<GenerationRow>, sqlx::Error> {
        sqlx::query(sqlx::AssertSqlSafe(format!("{SELECT_RUNS} WHERE g.owner_id = $1 AND g.id = $2")))
            .bind(owner.to_string())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(run_row)
            .transpose()
    }

    /// The photos runs made (those still kept), in the order they were made, with their seed and
    /// whether a version of them is in the gallery.
    pub async fn generated_photos(
        &self,
        owner: OwnerId,
        ids: &[GenerationId],
    ) -> Result<Vec<(GenerationId, PhotoSummary, Option<u32>, bool)>, sqlx::Error> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let list = (0..ids.len()).map(|i| format!("${}", i + 2)).collect::<Vec<_>>().join(", ");
        let sql = format!(
            "SELECT p.id, p.name, p.width, p.height, p.created_at, p.moderation, p.alt_text, p.tags, p.ocr_text, p.generation_id, p.seed,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM versions v WHERE v.photo_id = p.id) THEN 1 ELSE 0 END AS BIGINT) AS saved
             FROM photos p WHERE p.owner_id = $1 AND p.generation_id IN ({list}) ORDER BY p.created_at, p.seed, p.id"
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(owner.to_string());
        for id in ids {
            query = query.bind(id.to_string());
        }
        query
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                let saved = row.try_get::<i64, _>("saved")? != 0;
                Ok((
                    parse_id(row, "generation_id")?,
                    photo_summary(row)?,
                    row.try_get::<Option<i64>, _>("seed")?.and_then(|s| u32::try_from(s).ok()),
                    saved,
                ))
            })
            .collect()
    }

    /// Images a run has made so far (a retried run goes on from there).
    pub async fn generated_count(&self, id: GenerationId) -> Result<u32, sqlx::Error> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM photos WHERE generation_id = $1")
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok(u32::try_from(count).unwrap_or(u32::MAX))
    }

    /// Removes runs from the history (one, or all of the owner's) and returns their ids with the
    /// photos of them not kept in the gallery, for the caller to delete.
    pub async fn delete_generations(
        &self,
        owner: OwnerId,
        id: Option<GenerationId>,
    ) -> Result<(Vec<GenerationId>, Vec<PhotoId>), sqlx::Error> {
        let owner = owner.to_string();
        let mut tx = self.pool().begin().await?;
        let rows = match id {
            Some(id) => {
                sqlx::query("DELETE FROM generations WHERE owner_id = $1 AND id = $2 RETURNING id")
                    .bind(&owner)
                    .bind(id.to_string())
                    .fetch_all(&mut *tx)
                    .await?
            }
            None => {
                sqlx::query("DELETE FROM generations WHERE owner_id = $1 RETURNING id")
                    .bind(&owner)
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        let runs: Vec<GenerationId> = rows.iter().map(|row| parse_id(row, "id")).collect::<Result<_, _>>()?;
        let mut photos = Vec::new();
        for run in &runs {
            let unsaved = sqlx::query(
                "SELECT id FROM photos p WHERE owner_id = $1 AND generation_id = $2
                 AND NOT EXISTS (SELECT 1 FROM versions v WHERE v.photo_id = p.id)",
            )
            .bind(&owner)
            .bind(run.to_string())
            .fetch_all(&mut *tx)
            .await?;
            for row in &unsaved {
                photos.push(parse_id(row, "id")?);
            }
        }
        tx.commit().await?;
        Ok((runs, photos))
    }

    /// Runs older than `created_before` leave the history (their images go on their own schedule).
    pub async fn expire_generations(&self, created_before: i64) -> Result<u64, sqlx::Error> {
        Ok(sqlx::query("DELETE FROM generations WHERE created_at <= $1")
            .bind(created_before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }

    /// The owner's runs as "Download my data" lists them, with the photos each made.
    pub async fn generation_records(&self, owner: OwnerId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        let runs = self.generations_up_to(owner, "", i64::MAX).await?;
        let mut photos = Vec::new();
        // In chunks: an IN list has a bound on both databases.
        for chunk in runs.chunks(500) {
            let ids: Vec<GenerationId> = chunk.iter().map(|r| r.id).collect();
            photos.extend(self.generated_photos(owner, &ids).await?);
        }
        Ok(runs
            .iter()
            .map(|run| {
                let images: Vec<serde_json::Value> = photos
                    .iter()
                    .filter(|(of, ..)| *of == run.id)
                    .map(|(_, photo, seed, saved)| serde_json::json!({ "photo_id": photo.id, "seed": seed, "saved": saved }))
                    .collect();
                serde_json::json!({
                    "id": run.id, "request": run.request, "provider": run.provider, "model": run.model,
                    "seed": run.seed, "width": run.width, "height": run.height, "created_at": run.created_at,
                    "images": images,
                })
            })
            .collect())
    }

    /// Saves a template unless the owner already keeps `MAX_TEMPLATES`; false when full.
    pub async fn insert_template(
        &self,
        id: TemplateId,
        owner: OwnerId,
        t: &PromptTemplate,
    ) -> Result<bool, sqlx::Error> {
        let owner = owner.to_string();
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        let inserted = sqlx::query(
            "INSERT INTO prompt_templates (id, owner_id, name, prompt, negative_prompt, style, created_at)
             SELECT $1, $2, $3, $4, $5, $6, $7
             WHERE (SELECT COUNT(*) FROM prompt_templates WHERE owner_id = $2) < $8",
        )
        .bind(id.to_string())
        .bind(owner)
        .bind(t.name.trim())
        .bind(t.prompt.trim())
        .bind(t.negative_prompt.trim())
        .bind(t.style.as_deref())
        .bind(now())
        .bind(MAX_TEMPLATES)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(inserted == 1)
    }

    pub async fn templates(&self, owner: OwnerId) -> Result<Vec<PromptTemplate>, sqlx::Error> {
        sqlx::query(
            "SELECT id, name, prompt, negative_prompt, style FROM prompt_templates WHERE owner_id = $1
             ORDER BY created_at DESC, id",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok(PromptTemplate {
                id: Some(parse_id(row, "id")?),
                name: row.try_get("name")?,
                prompt: row.try_get("prompt")?,
                negative_prompt: row.try_get("negative_prompt")?,
                style: row.try_get("style")?,
            })
        })
        .collect()
    }

    pub async fn delete_template(&self, owner: OwnerId, id: TemplateId) -> Result<bool, sqlx::Error> {
        let deleted = sqlx::query("DELETE FROM prompt_templates WHERE owner_id = $1 AND id = $2")
            .bind(owner.to_string())
            .bind(id.to_string())
            .execute(self.pool())
            .await?;
        Ok(deleted.rows_affected() == 1)
    }

    pub async fn template_records(&self, owner: OwnerId) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        Ok(self.templates(owner).await?.into_iter().map(|t| serde_json::json!(t)).collect())
    }
}
