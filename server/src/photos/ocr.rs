//! The text OCR read in a photo (`photos.ocr_text`): written by the "copy text" tool and by the
//! after-upload index job, read back with the photo (`PhotoSummary::ocr_text`).

use app::ids::{OwnerId, PhotoId};

use crate::platform::db::Db;

/// The most characters kept per photo: a page of text; search and alt-text need no more.
pub const MAX_OCR_CHARS: usize = 10_000;

/// The text as it is kept: control characters other than line breaks dropped, each line trimmed,
/// empty lines removed, at most `MAX_OCR_CHARS` characters.
pub fn clean(text: &str) -> String {
    let lines: Vec<String> = text
        .lines()
        .map(|line| line.chars().filter(|c| !c.is_control()).collect::<String>().trim().to_string())
        .filter(|line| !line.is_empty())
        .collect();
    lines.join("\n").chars().take(MAX_OCR_CHARS).collect::<String>().trim_end().to_string()
}

impl Db {
    /// Keeps what OCR read in one of the owner's photos ('' when it found none, so the photo is
    /// not read again); returns whether the photo exists for this owner.
    pub async fn set_ocr_text(&self, owner: OwnerId, photo: PhotoId, text: &str) -> Result<bool, sqlx::Error> {
        let updated = sqlx::query("UPDATE photos SET ocr_text = $1 WHERE id = $2 AND owner_id = $3")
            .bind(clean(text))
            .bind(photo.to_string())
            .bind(owner.to_string())
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(updated == 1)
    }

    /// What OCR read in one of the owner's photos: `None` when not read yet (or not the owner's).
    pub async fn ocr_text(&self, owner: OwnerId, photo: PhotoId) -> Result<Option<String>, sqlx::Error> {
        use sqlx::Row;
        let row = sqlx::query("SELECT ocr_text FROM photos WHERE id = $1 AND owner_id = $2")
            .bind(photo.to_string())
            .bind(owner.to_string())
            .fetch_optional(self.pool())
            .await?;
        Ok(match row {
            Some(row) => row.try_get("ocr_text")?,
            None => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_text_has_no_control_characters_blank_lines_or_excess() {
        assert_eq!(clean("  OPEN DAILY \n\n\tFresh\u{7} bread\r\n"), "OPEN DAILY\nFresh bread");
        assert_eq!(clean(""), "");
        assert_eq!(clean(&"x".repeat(MAX_OCR_CHARS + 10)).len(), MAX_OCR_CHARS);
    }
}
