//! The photos' queries: owners, photos, versions and the gallery. Every read is scoped by owner.

use app::ids::{AccountId, OwnerId, PhotoId, VersionId};
use app::photos::{GalleryItem, PhotoSummary};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::platform::db::{now, parse_id, queue_purge, Db};

/// A stored photo or version as the server needs it (object keys included).
#[derive(Clone, Debug)]
pub struct StoredImage {
    pub content_type: String,
    pub name: String,
    pub object_key: String,
    pub thumbnail_key: String,
}

/// The image and thumbnail objects a new photo or version row points at.
pub struct StoredFiles {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub byte_size: u64,
    pub object_key: String,
    pub thumbnail_key: String,
}

pub struct NewPhoto<'a> {
    pub id: PhotoId,
    pub owner: OwnerId,
    pub name: &'a str,
    pub files: &'a StoredFiles,
    /// 'unchecked', 'clear' or 'held'.
    pub moderation: &'a str,
    /// open_nsfw's score in per mille, when it ran.
    pub nsfw_score: Option<i64>,
    /// Camera facts (JSON) read from EXIF before it was stripped.
    pub camera: Option<String>,
    /// The generation run that made it, and the seed, for a generated image.
    pub made_by: Option<(app::ids::GenerationId, Option<u32>)>,
}

pub struct NewVersion<'a> {
    pub id: VersionId,
    pub photo: PhotoId,
    pub owner: OwnerId,
    pub recipe_json: &'a str,
    pub files: &'a StoredFiles,
    /// The batch pipeline (JSON) that made it, when one did.
    pub pipeline_json: Option<&'a str>,
}

fn dimension(row: &AnyRow, column: &str) -> Result<u32, sqlx::Error> {
    let value: i64 = row.try_get(column)?;
    u32::try_from(value).map_err(|_| sqlx::Error::Decode(format!("{column} out of range").into()))
}

pub(crate) fn photo_summary(row: &AnyRow) -> Result<PhotoSummary, sqlx::Error> {
    Ok(PhotoSummary {
        id: parse_id(row, "id")?,
        name: row.try_get("name")?,
        width: dimension(row, "width")?,
        height: dimension(row, "height")?,
        created_at: row.try_get("created_at")?,
        original_url: String::new(),
        thumbnail_url: String::new(),
        held: row.try_get::<String, _>("moderation")? == "held",
        alt_text: row.try_get("alt_text")?,
        tags: row.try_get::<Option<String>, _>("tags")?.and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
        ocr_text: row.try_get("ocr_text")?,
        max_pixels: 0,
        export_url: String::new(),
    })
}

fn gallery_item(row: &AnyRow) -> Result<GalleryItem, sqlx::Error> {
    let recipe: String = row.try_get("recipe")?;
    let recipe =
        serde_json::from_str(&recipe).map_err(|e| sqlx::Error::Decode(format!("stored recipe: {e}").into()))?;
    Ok(GalleryItem {
        id: parse_id(row, "id")?,
        photo_id: parse_id(row, "photo_id")?,
        name: row.try_get("name")?,
        width: dimension(row, "width")?,
        height: dimension(row, "height")?,
        recipe,
        created_at: row.try_get("created_at")?,
        expires_at: 0,
        expires_soon: false,
        image_url: String::new(),
        thumbnail_url: String::new(),
        export_url: String::new(),
        pipeline: row
            .try_get::<Option<String>, _>("pipeline")?
            .and_then(|json| serde_json::from_str::<app::batch::Pipeline>(&json).ok())
            .map(|pipeline| pipeline.name),
    })
}

fn stored_image(row: &AnyRow) -> Result<StoredImage, sqlx::Error> {
    Ok(StoredImage {
        content_type: row.try_get("content_type")?,
        name: row.try_get("name")?,
        object_key: row.try_get("object_key")?,
        thumbnail_key: row.try_get("thumbnail_key")?,
    })
}

/// Versions with their photo's name, filtered by `$where`.
macro_rules! select_versions {
    ($where:literal) => {
        concat!(
            "SELECT v.id, v.photo_id, p.name, v.width, v.height, v.recipe, v.created_at, ",
            "v.content_type, v.object_key, v.thumbnail_key, v.pipeline ",
            "FROM versions v JOIN photos p ON p.id = v.photo_id WHERE ",
            $where
        )
    };
}

/// Every byte an owner's workspace holds, as SQL, for the owner bound at `owner`: originals,
/// saved versions and AI results (thumbnails included where they are counted).
fn owner_bytes(owner: &str) -> String {
    format!(
        "((SELECT COALESCE(SUM(byte_size), 0) FROM photos WHERE owner_id = {owner})
          + (SELECT COALESCE(SUM(byte_size), 0) FROM versions WHERE owner_id = {owner})
          + (SELECT COALESCE(SUM(result_bytes), 0) FROM jobs WHERE owner_id = {owner}))"
    )
}

/// The limits a write is checked against, in the same statement as the write.
#[derive(Clone, Copy, Debug)]
pub struct Quota {
    pub max_photos: u64,
    pub max_bytes: u64,
}

fn bound(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl Db {
    pub async fn insert_guest_owner(&self, id: OwnerId) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO owners (id, kind, created_at) VALUES ($1, 'guest', $2)")
            .bind(id.to_string())
            .bind(now())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    pub async fn owner_exists(&self, id: OwnerId) -> Result<bool, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM owners WHERE id = $1")
            .bind(id.to_string())
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Photos and bytes the owner holds (originals, saved versions and AI results), for quotas.
    pub async fn owner_usage(&self, id: OwnerId) -> Result<(u64, u64), sqlx::Error> {
        let sql = format!(
            "SELECT (SELECT COUNT(*) FROM photos WHERE owner_id = $1) AS n, CAST({} AS BIGINT) AS bytes",
            owner_bytes("$1")
        );
        let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_one(self.pool()).await?;
        let count: i64 = row.try_get("n")?;
        let bytes: i64 = row.try_get("bytes")?;
        Ok((count.max(0) as u64, bytes.max(0) as u64))
    }

    // --- photos ---

    /// Inserts the photo only while the owner stays within `quota`, checked in the same
    /// statement (and the owner locked on Postgres), so uploads sent together cannot pass it
    /// between check and insert; `None` when it would not fit.
    pub async fn insert_photo(&self, photo: &NewPhoto<'_>, quota: Quota) -> Result<Option<i64>, sqlx::Error> {
        let created_at = now();
        let owner = photo.owner.to_string();
        let sql = format!(
            "INSERT INTO photos (id, owner_id, name, content_type, width, height, byte_size, object_key, thumbnail_key, created_at,
                                 moderation, nsfw_score, camera, generation_id, seed)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $16, $17
             WHERE (SELECT COUNT(*) FROM photos WHERE owner_id = $2) < $14 AND {} + $7 <= $15",
            owner_bytes("$2")
        );
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(photo.id.to_string())
            .bind(owner)
            .bind(photo.name)
            .bind(photo.files.content_type)
            .bind(i64::from(photo.files.width))
            .bind(i64::from(photo.files.height))
            .bind(bound(photo.files.byte_size))
            .bind(&photo.files.object_key)
            .bind(&photo.files.thumbnail_key)
            .bind(created_at)
            .bind(photo.moderation)
            .bind(photo.nsfw_score)
            .bind(photo.camera.as_deref())
            .bind(bound(quota.max_photos))
            .bind(bound(quota.max_bytes))
            .bind(photo.made_by.map(|(generation, _)| generation.to_string()))
            .bind(photo.made_by.and_then(|(_, seed)| seed).map(i64::from))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((inserted == 1).then_some(created_at))
    }

    pub async fn list_photos(&self, owner: OwnerId) -> Result<Vec<PhotoSummary>, sqlx::Error> {
        sqlx::query("SELECT id, name, width, height, created_at, moderation, alt_text, tags, ocr_text FROM photos WHERE owner_id = $1 ORDER BY created_at DESC, id")
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(photo_summary)
            .collect()
    }

    pub async fn photo(&self, owner: OwnerId, id: PhotoId) -> Result<Option<(PhotoSummary, StoredImage)>, sqlx::Error> {
        sqlx::query(
            "SELECT id, name, width, height, created_at, moderation, alt_text, tags, ocr_text, content_type, object_key,
             thumbnail_key FROM photos WHERE owner_id = $1 AND id = $2",
        )
        .bind(owner.to_string())
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| Ok((photo_summary(row)?, stored_image(row)?)))
        .transpose()
    }

    /// The camera facts kept from a photo's EXIF, if any.
    pub async fn camera_facts(&self, id: PhotoId) -> Result<Option<ai::describe::CameraFacts>, sqlx::Error> {
        let row = sqlx::query("SELECT camera FROM photos WHERE id = $1")
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?;
        let text: Option<String> = match row {
            Some(row) => row.try_get("camera")?,
            None => None,
        };
        Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
    }

    /// A photo and its versions go, their files queued for purging in the same transaction.
    pub async fn delete_photo(&self, owner: OwnerId, id: PhotoId) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let versions = sqlx::query(
            "DELETE FROM versions WHERE owner_id = $1 AND photo_id = $2 RETURNING object_key, thumbnail_key",
        )
        .bind(owner.to_string())
        .bind(id.to_string())
        .fetch_all(&mut *tx)
        .await?;
        queue_purge(&mut tx, &versions, &["object_key", "thumbnail_key"]).await?;
        let photos =
            sqlx::query("DELETE FROM photos WHERE owner_id = $1 AND id = $2 RETURNING object_key, thumbnail_key")
                .bind(owner.to_string())
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await?;
        queue_purge(&mut tx, &photos, &["object_key", "thumbnail_key"]).await?;
        tx.commit().await?;
        Ok(!photos.is_empty())
    }

    // --- versions ---

    /// Inserts the version only while the owner's bytes stay within `quota` (as `insert_photo`).
    pub async fn insert_version(&self, version: &NewVersion<'_>, quota: Quota) -> Result<Option<i64>, sqlx::Error> {
        let created_at = now();
        let owner = version.owner.to_string();
        let sql = format!(
            "INSERT INTO versions (id, photo_id, owner_id, recipe, content_type, width, height, byte_size, object_key, thumbnail_key, created_at, pipeline)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13
             WHERE {} + $8 <= $12",
            owner_bytes("$3")
        );
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(version.id.to_string())
            .bind(version.photo.to_string())
            .bind(owner)
            .bind(version.recipe_json)
            .bind(version.files.content_type)
            .bind(i64::from(version.files.width))
            .bind(i64::from(version.files.height))
            .bind(bound(version.files.byte_size))
            .bind(&version.files.object_key)
            .bind(&version.files.thumbnail_key)
            .bind(created_at)
            .bind(bound(quota.max_bytes))
            .bind(version.pipeline_json)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((inserted == 1).then_some(created_at))
    }

    pub async fn gallery(&self, owner: OwnerId) -> Result<Vec<GalleryItem>, sqlx::Error> {
        sqlx::query(select_versions!("v.owner_id = $1 ORDER BY v.created_at DESC, v.id"))
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(gallery_item)
            .collect()
    }

    pub async fn version(
        &self,
        owner: OwnerId,
        id: VersionId,
    ) -> Result<Option<(GalleryItem, StoredImage)>, sqlx::Error> {
        sqlx::query(select_versions!("v.owner_id = $1 AND v.id = $2"))
            .bind(owner.to_string())
            .bind(id.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(|row| Ok((gallery_item(row)?, stored_image(row)?)))
            .transpose()
    }

    /// Deletes the row and queues its files for purging (one transaction); returns whether it
    /// existed for this owner.
    pub async fn delete_version(&self, owner: OwnerId, id: VersionId) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool().begin().await?;
        let rows =
            sqlx::query("DELETE FROM versions WHERE owner_id = $1 AND id = $2 RETURNING object_key, thumbnail_key")
                .bind(owner.to_string())
                .bind(id.to_string())
                .fetch_all(&mut *tx)
                .await?;
        queue_purge(&mut tx, &rows, &["object_key", "thumbnail_key"]).await?;
        tx.commit().await?;
        Ok(!rows.is_empty())
    }

    /// The account whose workspace `owner` is, if any.
    pub async fn account_of_owner(&self, owner: OwnerId) -> Result<Option<AccountId>, sqlx::Error> {
        sqlx::query("SELECT id FROM accounts WHERE owner_id = $1")
            .bind(owner.to_string())
            .fetch_optional(self.pool())
            .await?
            .as_ref()
            .map(|row| parse_id(row, "id"))
            .transpose()
    }
}
