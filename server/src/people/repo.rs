//! People's queries: consent on the account (and its records), faces and people. Every write that
//! adds faces checks, in the same transaction and under the workspace's lock, that People is
//! still on, so a job that was mid-photo when People was switched off cannot leave a face behind.

use ai::people::{self as faces_ai, Face, EMBEDDING_LEN};
use app::ids::{AccountId, OwnerId, PersonId, PhotoId};
use base64::Engine as _;
use sqlx::any::AnyRow;
use sqlx::Row;
use uuid::Uuid;

use crate::platform::db::{now, parse_id, Db};

/// Face boxes are kept in ten-thousandths of the photo.
const BOX_SCALE: f32 = 10_000.0;

/// A person as the pages list them.
pub struct PersonRow {
    pub id: PersonId,
    pub name: Option<String>,
    pub faces: i64,
    pub photos: i64,
    /// One of their faces, for the thumbnail.
    pub face: String,
}

/// A descriptor as portable text: its little-endian f32 bytes in base64 (5.5 KB for 1024).
pub fn encode_embedding(embedding: &[f32]) -> String {
    let bytes: Vec<u8> = embedding.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// `encode_embedding` undone; `None` for text that is not a descriptor of `EMBEDDING_LEN` values.
pub fn decode_embedding(text: &str) -> Option<Vec<f32>> {
    // The encoded length is known (4 characters per 3 bytes): anything else is refused before
    // decoding.
    if text.len() != (EMBEDDING_LEN * 4).div_ceil(3) * 4 {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).ok()?;
    if bytes.len() != EMBEDDING_LEN * 4 {
        return None;
    }
    let values: Vec<f32> = bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    values.iter().all(|v| v.is_finite()).then_some(values)
}

fn person_row(row: &AnyRow) -> Result<PersonRow, sqlx::Error> {
    Ok(PersonRow {
        id: parse_id(row, "id")?,
        name: row.try_get("name")?,
        faces: row.try_get("faces")?,
        photos: row.try_get("photos")?,
        face: row.try_get("face")?,
    })
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Db {
    /// When People was switched on for the account of this workspace; `None` when off, or when the
    /// workspace is a guest's.
    pub async fn people_enabled_at(&self, owner: OwnerId) -> Result<Option<i64>, sqlx::Error> {
        let row = sqlx::query("SELECT people_enabled_at FROM accounts WHERE owner_id = $1")
            .bind(owner.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("people_enabled_at")?,
            None => None,
        })
    }

    /// Switches People on (kept from the first time while it stays on) and records the consent.
    pub async fn enable_people(&self, account: AccountId, text_version: u32) -> Result<(), sqlx::Error> {
        let at = now();
        let mut tx = self.pool().begin().await?;
        sqlx::query("UPDATE accounts SET people_enabled_at = COALESCE(people_enabled_at, $2) WHERE id = $1")
            .bind(account.to_string())
            .bind(at)
            .execute(&mut *tx)
            .await?;
        insert_consent(&mut tx, account, "grant", text_version, at).await?;
        tx.commit().await
    }

    /// Switches People off: every face and person of the workspace deleted, its photos to be
    /// looked at anew if it is switched on again, queued People jobs dropped and running ones
    /// asked to stop, and the withdrawal recorded, all in one transaction.
    pub async fn disable_people(
        &self,
        account: AccountId,
        owner: OwnerId,
        text_version: u32,
    ) -> Result<(), sqlx::Error> {
        let owner = owner.to_string();
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner).await?;
        sqlx::query("UPDATE accounts SET people_enabled_at = NULL WHERE id = $1")
            .bind(account.to_string())
            .execute(&mut *tx)
            .await?;
        for statement in [
            "DELETE FROM faces WHERE owner_id = $1",
            "DELETE FROM people WHERE owner_id = $1",
            "UPDATE photos SET faces_scanned_at = NULL WHERE owner_id = $1",
            // Queued ones have no files; a running one stops at its next heartbeat.
            "DELETE FROM jobs WHERE owner_id = $1 AND tool = 'people' AND state = 'queued'",
            "UPDATE jobs SET cancel_requested = 1 WHERE owner_id = $1 AND tool = 'people' AND state = 'running'",
        ] {
            sqlx::query(statement).bind(&owner).execute(&mut *tx).await?;
        }
        insert_consent(&mut tx, account, "withdraw", text_version, now()).await?;
        tx.commit().await
    }

    /// The oldest photo of the workspace whose faces have not been looked for (held photos wait
    /// for an administrator).
    pub async fn next_unscanned_photo(&self, owner: OwnerId) -> Result<Option<PhotoId>, sqlx::Error> {
        sqlx::query(
            "SELECT id FROM photos WHERE owner_id = $1 AND faces_scanned_at IS NULL AND moderation <> 'held'
             ORDER BY created_at, id LIMIT 1",
        )
        .bind(owner.to_string())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(|row| parse_id(row, "id"))
        .transpose()
    }

    pub async fn unscanned_photos(&self, owner: OwnerId) -> Result<i64, sqlx::Error> {
        sqlx::query(
            "SELECT COUNT(*) AS n FROM photos WHERE owner_id = $1 AND faces_scanned_at IS NULL AND moderation <> 'held'",
        )
        .bind(owner.to_string())
        .fetch_one(self.pool())
        .await?
        .try_get("n")
    }

    /// Keeps the faces found in `photo`, each put with the most similar person or made a new one,
    /// and marks the photo looked at. Nothing is written, and false returned, when People is no
    /// longer on; a photo already looked at (or deleted meanwhile) is left as it is.
    pub async fn store_faces(&self, owner: OwnerId, photo: PhotoId, found: &[Face]) -> Result<bool, sqlx::Error> {
        let owner_text = owner.to_string();
        let at = now();
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner_text).await?;
        let enabled =
            sqlx::query("SELECT 1 AS on_ FROM accounts WHERE owner_id = $1 AND people_enabled_at IS NOT NULL")
                .bind(&owner_text)
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
        if !enabled {
            return Ok(false);
        }
        let marked = sqlx::query(
            "UPDATE photos SET faces_scanned_at = $3 WHERE id = $1 AND owner_id = $2 AND faces_scanned_at IS NULL",
        )
        .bind(photo.to_string())
        .bind(&owner_text)
        .bind(at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if marked == 0 {
            return Ok(true);
        }
        if !found.is_empty() {
            let rows = sqlx::query(
                "SELECT p.id, p.centroid, (SELECT COUNT(*) FROM faces f WHERE f.person_id = p.id) AS n
                 FROM people p WHERE p.owner_id = $1 ORDER BY p.created_at, p.id",
            )
            .bind(&owner_text)
            .fetch_all(&mut *tx)
            .await?;
            let mut ids: Vec<String> = Vec::with_capacity(rows.len());
            let mut centroids: Vec<Vec<f32>> = Vec::with_capacity(rows.len());
            let mut counts: Vec<i64> = Vec::with_capacity(rows.len());
            for row in &rows {
                // A centroid that does not read (it never should) is left out rather than failing
                // the photo: its person then just gains no new faces.
                let Some(centroid) = decode_embedding(&row.try_get::<String, _>("centroid")?) else { continue };
                ids.push(row.try_get("id")?);
                centroids.push(centroid);
                counts.push(row.try_get("n")?);
            }
            for face in found {
                let person = match faces_ai::nearest(&centroids, &face.embedding) {
                    Some(i) => {
                        centroids[i] =
                            faces_ai::add_to_centroid(&centroids[i], counts[i].max(0) as u64, &face.embedding);
                        counts[i] += 1;
                        sqlx::query("UPDATE people SET centroid = $2 WHERE id = $1")
                            .bind(&ids[i])
                            .bind(encode_embedding(&centroids[i]))
                            .execute(&mut *tx)
                            .await?;
                        ids[i].clone()
                    }
                    None => {
                        let id = Uuid::now_v7().to_string();
                        sqlx::query("INSERT INTO people (id, owner_id, name, centroid, created_at) VALUES ($1, $2, NULL, $3, $4)")
                            .bind(&id)
                            .bind(&owner_text)
                            .bind(encode_embedding(&face.embedding))
                            .bind(at)
                            .execute(&mut *tx)
                            .await?;
                        ids.push(id.clone());
                        centroids.push(face.embedding.clone());
                        counts.push(1);
                        id
                    }
                };
                let [x, y, w, h] = face.bbox.map(|v| (v.clamp(0.0, 1.0) * BOX_SCALE).round() as i64);
                sqlx::query(
                    "INSERT INTO faces (id, owner_id, photo_id, person_id, box_x, box_y, box_w, box_h, embedding, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(Uuid::now_v7().to_string())
                .bind(&owner_text)
                .bind(photo.to_string())
                .bind(person)
                .bind(x)
                .bind(y)
                .bind(w)
                .bind(h)
                .bind(encode_embedding(&face.embedding))
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The workspace's people with at least one face, most faces first; people left without faces
    /// (their photos deleted) are removed on the way.
    pub async fn people_of(&self, owner: OwnerId) -> Result<Vec<PersonRow>, sqlx::Error> {
        let owner = owner.to_string();
        sqlx::query(
            "DELETE FROM people WHERE owner_id = $1 AND NOT EXISTS (SELECT 1 FROM faces f WHERE f.person_id = people.id)",
        )
        .bind(&owner)
        .execute(self.pool())
        .await?;
        sqlx::query(
            "SELECT p.id, p.name, COUNT(f.id) AS faces, COUNT(DISTINCT f.photo_id) AS photos, MIN(f.id) AS face
             FROM people p JOIN faces f ON f.person_id = p.id
             WHERE p.owner_id = $1 GROUP BY p.id, p.name, p.created_at ORDER BY faces DESC, p.created_at, p.id",
        )
        .bind(&owner)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(person_row)
        .collect()
    }

    pub async fn person(&self, owner: OwnerId, id: PersonId) -> Result<Option<PersonRow>, sqlx::Error> {
        sqlx::query(
            "SELECT p.id, p.name, COUNT(f.id) AS faces, COUNT(DISTINCT f.photo_id) AS photos, MIN(f.id) AS face
             FROM people p JOIN faces f ON f.person_id = p.id
             WHERE p.owner_id = $1 AND p.id = $2 GROUP BY p.id, p.name",
        )
        .bind(owner.to_string())
        .bind(id.to_string())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(person_row)
        .transpose()
    }

    /// False when the person is not this workspace's.
    pub async fn rename_person(&self, owner: OwnerId, id: PersonId, name: Option<&str>) -> Result<bool, sqlx::Error> {
        let done = sqlx::query("UPDATE people SET name = $3 WHERE id = $1 AND owner_id = $2")
            .bind(id.to_string())
            .bind(owner.to_string())
            .bind(name)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves the faces of `from` to `into` (keeping `from`'s name when `into` has none), gives
    /// `into` the centroid of all its faces and deletes `from`. False when either is not this
    /// workspace's.
    pub async fn merge_people(&self, owner: OwnerId, into: PersonId, from: PersonId) -> Result<bool, sqlx::Error> {
        let owner_text = owner.to_string();
        let (into, from) = (into.to_string(), from.to_string());
        let mut tx = self.pool().begin().await?;
        self.lock_owner(&mut tx, &owner_text).await?;
        let both = sqlx::query("SELECT id, name FROM people WHERE owner_id = $1 AND id IN ($2, $3)")
            .bind(&owner_text)
            .bind(&into)
            .bind(&from)
            .fetch_all(&mut *tx)
            .await?;
        if both.len() != 2 {
            return Ok(false);
        }
        sqlx::query("UPDATE faces SET person_id = $2 WHERE person_id = $3 AND owner_id = $1")
            .bind(&owner_text)
            .bind(&into)
            .bind(&from)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE people SET name = (SELECT name FROM people WHERE id = $2) WHERE id = $1 AND name IS NULL")
            .bind(&into)
            .bind(&from)
            .execute(&mut *tx)
            .await?;
        let embeddings =
            sqlx::query("SELECT embedding FROM faces WHERE person_id = $1").bind(&into).fetch_all(&mut *tx).await?;
        let mut sum = vec![0f32; EMBEDDING_LEN];
        for row in &embeddings {
            if let Some(e) = decode_embedding(&row.try_get::<String, _>("embedding")?) {
                sum.iter_mut().zip(&e).for_each(|(s, v)| *s += v);
            }
        }
        if let Some(centroid) = faces_ai::normalised(&sum) {
            sqlx::query("UPDATE people SET centroid = $2 WHERE id = $1")
                .bind(&into)
                .bind(encode_embedding(&centroid))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("DELETE FROM people WHERE id = $1").bind(&from).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The photos a person's faces are in.
    pub async fn person_photo_ids(&self, owner: OwnerId, id: PersonId) -> Result<Vec<PhotoId>, sqlx::Error> {
        sqlx::query("SELECT DISTINCT photo_id FROM faces WHERE owner_id = $1 AND person_id = $2")
            .bind(owner.to_string())
            .bind(id.to_string())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| parse_id(row, "photo_id"))
            .collect()
    }

    /// The photos of every person whose name contains `name` (case-insensitive).
    pub async fn photo_ids_of_name(&self, owner: OwnerId, name: &str) -> Result<Vec<PhotoId>, sqlx::Error> {
        sqlx::query(
            "SELECT DISTINCT f.photo_id FROM faces f JOIN people p ON p.id = f.person_id
             WHERE p.owner_id = $1 AND LOWER(p.name) LIKE $2 ESCAPE '\\'",
        )
        .bind(owner.to_string())
        .bind(like_pattern(name))
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| parse_id(row, "photo_id"))
        .collect()
    }

    /// A face's photo and box (fractions of the photo), if it is this workspace's.
    pub async fn face_box(&self, owner: OwnerId, face: &str) -> Result<Option<(PhotoId, [f32; 4])>, sqlx::Error> {
        let Some(row) =
            sqlx::query("SELECT photo_id, box_x, box_y, box_w, box_h FROM faces WHERE id = $1 AND owner_id = $2")
                .bind(face)
                .bind(owner.to_string())
                .fetch_optional(self.pool())
                .await?
        else {
            return Ok(None);
        };
        let value = |column: &str| row.try_get::<i64, _>(column).map(|v| v as f32 / BOX_SCALE);
        Ok(Some((parse_id(&row, "photo_id")?, [value("box_x")?, value("box_y")?, value("box_w")?, value("box_h")?])))
    }

    /// Everything People holds for "Download my data": whether it is on, the consent records, the
    /// people and every face with its box and descriptor.
    pub async fn people_records(&self, account: AccountId, owner: OwnerId) -> Result<serde_json::Value, sqlx::Error> {
        let enabled_at = self.people_enabled_at(owner).await?;
        let consents = sqlx::query(
            "SELECT action, text_version, created_at FROM people_consents WHERE account_id = $1 ORDER BY created_at, id",
        )
        .bind(account.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            Ok::<_, sqlx::Error>(serde_json::json!({
                "action": row.try_get::<String, _>("action")?,
                "text_version": row.try_get::<i64, _>("text_version")?,
                "at": row.try_get::<i64, _>("created_at")?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
        let people = sqlx::query("SELECT id, name, created_at FROM people WHERE owner_id = $1 ORDER BY created_at, id")
            .bind(owner.to_string())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok::<_, sqlx::Error>(serde_json::json!({
                    "id": row.try_get::<String, _>("id")?,
                    "name": row.try_get::<Option<String>, _>("name")?,
                    "created_at": row.try_get::<i64, _>("created_at")?,
                }))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let faces = sqlx::query(
            "SELECT id, photo_id, person_id, box_x, box_y, box_w, box_h, embedding, created_at FROM faces
             WHERE owner_id = $1 ORDER BY created_at, id",
        )
        .bind(owner.to_string())
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| {
            let fraction = |column: &str| row.try_get::<i64, _>(column).map(|v| v as f32 / BOX_SCALE);
            Ok::<_, sqlx::Error>(serde_json::json!({
                "id": row.try_get::<String, _>("id")?,
                "photo_id": row.try_get::<String, _>("photo_id")?,
                "person_id": row.try_get::<Option<String>, _>("person_id")?,
                "box": [fraction("box_x")?, fraction("box_y")?, fraction("box_w")?, fraction("box_h")?],
                "descriptor_f32le_base64": row.try_get::<String, _>("embedding")?,
                "found_at": row.try_get::<i64, _>("created_at")?,
            }))
        })
        .collect::<Result<Vec<_>, _>>()?;
        Ok(serde_json::json!({ "enabled_at": enabled_at, "consents": consents, "people": people, "faces": faces }))
    }
}

async fn insert_consent(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    account: AccountId,
    action: &str,
    text_version: u32,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO people_consents (id, account_id, action, text_version, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(Uuid::now_v7().to_string())
    .bind(account.to_string())
    .bind(action)
    .bind(i64::from(text_version))
    .bind(at)
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_survives_its_text_form_and_bad_text_is_refused() {
        let e: Vec<f32> = (0..EMBEDDING_LEN).map(|i| (i as f32 - 512.0) / 1000.0).collect();
        assert_eq!(decode_embedding(&encode_embedding(&e)), Some(e));
        assert_eq!(decode_embedding("not base64!"), None);
        assert_eq!(decode_embedding(&encode_embedding(&[1.0, 2.0])), None);
        assert_eq!(decode_embedding(&"A".repeat(100_000)), None);
        assert_eq!(decode_embedding(&encode_embedding(&vec![f32::NAN; EMBEDDING_LEN])), None);
    }

    #[test]
    fn a_name_is_searched_for_literally() {
        assert_eq!(like_pattern("Anna"), "%anna%");
        assert_eq!(like_pattern("50%_a\\"), "%50\\%\\_a\\\\%");
    }
}
