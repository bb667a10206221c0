//! Near-duplicates' queries: each photo's fingerprint, and the owner's fingerprinted photos.
//! Every read is scoped by owner.

use ai::similar::Fingerprint;
use app::ids::{OwnerId, PhotoId};
use app::photos::PhotoSummary;
use sqlx::Row;
use std::collections::HashMap;

use crate::platform::db::{parse_id, Db};

/// Kept in `phash` for a photo whose thumbnail could not be read, so it is not tried again on
/// every look (a hash is always 16 hex digits).
const UNREADABLE: &str = "";

/// A fingerprinted photo of the owner, as grouping needs it.
pub struct Candidate {
    pub summary: PhotoSummary,
    pub fingerprint: Fingerprint,
    pub taken_at: Option<i64>,
    pub saved_versions: u32,
}

impl Db {
    /// Records a photo's fingerprint, and when it was taken if known.
    pub async fn save_fingerprint(
        &self,
        photo: PhotoId,
        fingerprint: Fingerprint,
        taken_at: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE photos SET phash = $1, sharpness = $2, exposure = $3, taken_at = COALESCE($4, taken_at) WHERE id = $5",
        )
        .bind(format!("{:016x}", fingerprint.hash))
        .bind((f64::from(fingerprint.sharpness) * 100.0).round() as i64)
        .bind((f64::from(fingerprint.exposure) * 1000.0).round() as i64)
        .bind(taken_at)
        .bind(photo.to_string())
        .execute(self.pool())
        .await
        .map(|_| ())
    }

    /// Records when a photo was taken, its fingerprint left to be computed later.
    pub async fn save_taken_at(&self, photo: PhotoId, taken_at: i64) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE photos SET taken_at = $1 WHERE id = $2")
            .bind(taken_at)
            .bind(photo.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Marks a photo whose thumbnail cannot be decoded, so it is not tried on every look.
    pub async fn mark_unreadable(&self, photo: PhotoId) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE photos SET phash = $1 WHERE id = $2")
            .bind(UNREADABLE)
            .bind(photo.to_string())
            .execute(self.pool())
            .await
            .map(|_| ())
    }

    /// Up to `limit` of the owner's photos with no fingerprint yet (newest first) and their
    /// thumbnails' keys, and how many there are in all.
    pub async fn unfingerprinted(
        &self,
        owner: OwnerId,
        limit: u32,
    ) -> Result<(Vec<(PhotoId, String)>, u32), sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, thumbnail_key FROM photos WHERE owner_id = $1 AND phash IS NULL ORDER BY created_at DESC, id LIMIT $2",
        )
        .bind(owner.to_string())
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        let some = rows
            .iter()
            .map(|row| Ok((parse_id(row, "id")?, row.try_get("thumbnail_key")?)))
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let total: i64 = sqlx::query("SELECT COUNT(*) AS n FROM photos WHERE owner_id = $1 AND phash IS NULL")
            .bind(owner.to_string())
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        Ok((some, u32::try_from(total).unwrap_or(u32::MAX)))
    }

    /// The owner's fingerprinted photos that can be opened (not held), oldest first, with how many
    /// saved versions each has. Their summaries come from the photos' own query, so this one
    /// reads only what near-duplicates added.
    pub async fn fingerprinted(&self, owner: OwnerId) -> Result<Vec<Candidate>, sqlx::Error> {
        let mut summaries: HashMap<PhotoId, PhotoSummary> =
            self.list_photos(owner).await?.into_iter().map(|summary| (summary.id, summary)).collect();
        let rows = sqlx::query(
            "SELECT p.id, p.phash, p.sharpness, p.exposure, p.taken_at,
                    (SELECT COUNT(*) FROM versions v WHERE v.photo_id = p.id AND v.owner_id = p.owner_id) AS saved
             FROM photos p
             WHERE p.owner_id = $1 AND p.phash IS NOT NULL AND p.phash <> '' AND p.moderation <> 'held'
             ORDER BY p.created_at, p.id",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?;
        let mut candidates = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: PhotoId = parse_id(row, "id")?;
            // A photo deleted between the two queries is simply left out.
            if let Some(candidate) = summaries.remove(&id).map(|summary| candidate(row, summary)).transpose()?.flatten()
            {
                candidates.push(candidate);
            }
        }
        Ok(candidates)
    }
}

/// A row as a candidate; `None` for a hash that does not parse (never written so, but a damaged
/// value must not break the whole workspace's grouping).
fn candidate(row: &sqlx::any::AnyRow, summary: PhotoSummary) -> Result<Option<Candidate>, sqlx::Error> {
    let phash: String = row.try_get("phash")?;
    let Ok(hash) = u64::from_str_radix(&phash, 16) else { return Ok(None) };
    let sharpness: Option<i64> = row.try_get("sharpness")?;
    let exposure: Option<i64> = row.try_get("exposure")?;
    let saved: i64 = row.try_get("saved")?;
    Ok(Some(Candidate {
        summary,
        fingerprint: Fingerprint {
            hash,
            sharpness: sharpness.unwrap_or(0) as f32 / 100.0,
            exposure: exposure.unwrap_or(0) as f32 / 1000.0,
        },
        taken_at: row.try_get("taken_at")?,
        saved_versions: u32::try_from(saved).unwrap_or(u32::MAX),
    }))
}
