//! Near-duplicates: keeps the `DuplicateService` contract. Each photo's fingerprint (perceptual
//! hash, sharpness, exposure; `ai::similar`) is computed from its thumbnail when it is stored, or
//! here a few at a time for photos stored before; the owner's fingerprinted photos are then grouped
//! (copies at any time, bursts within seconds) and ranked. Only the owner's own photos are read.

pub mod repo;

use std::collections::HashSet;
use std::sync::Arc;

use ai::similar::{self, Fingerprint, Shot};
use app::duplicates::{DuplicateGroup, DuplicatePhoto, DuplicateReport, DuplicateService, GroupKind};
use app::error::AppError;
use app::ids::{OwnerId, PhotoId};
use async_trait::async_trait;

use crate::duplicates::repo::Candidate;
use crate::photos::PhotoStore;
use crate::platform::db::Db;
use crate::platform::error::OrInternal;
use crate::platform::images::{self, Images};

/// Photos stored before fingerprints existed are fingerprinted this many per look, so a large old
/// workspace costs a bounded moment per request (about 5 ms each, from the thumbnail).
const BACKFILL_PER_LOOK: u32 = 24;
/// Frames at most this far apart in time, and alike at `similar::BURST`, are a burst.
const BURST_SECS: i64 = 5;

#[derive(Clone, Debug)]
pub struct DuplicateStore {
    pub photos: Arc<PhotoStore>,
}

/// The fingerprint of a stored thumbnail (JPEG), computed on the image pool.
pub async fn fingerprint_thumbnail(images: &Images, thumbnail: Vec<u8>) -> Result<Fingerprint, AppError> {
    images
        .run(move |max_pixels| {
            let image = images::decode(&thumbnail, max_pixels)?;
            Ok(similar::fingerprint(&image.to_rgb8()))
        })
        .await
}

/// Records a new photo's fingerprint and capture time; best effort: without a fingerprint (logged)
/// the photo is fingerprinted when the duplicates are next looked at.
pub async fn remember(db: &Db, photo: PhotoId, fingerprint: Result<Fingerprint, AppError>, taken_at: Option<i64>) {
    let saved = match (fingerprint, taken_at) {
        (Ok(fingerprint), taken_at) => db.save_fingerprint(photo, fingerprint, taken_at).await,
        (Err(error), taken_at) => {
            tracing::warn!(%error, %photo, "a new photo could not be fingerprinted; it is tried again later");
            match taken_at {
                Some(taken_at) => db.save_taken_at(photo, taken_at).await,
                None => Ok(()),
            }
        }
    };
    if let Err(error) = saved {
        tracing::warn!(%error, %photo, "could not record a photo's fingerprint");
    }
}

/// When the camera took the photo: EXIF DateTimeOriginal in seconds, the camera's clock read as
/// UTC (only differences matter: bursts). `None` when the file does not say, or says nonsense.
pub fn taken_at(bytes: &[u8]) -> Option<i64> {
    let exif = exif::Reader::new().read_from_container(&mut std::io::Cursor::new(bytes)).ok()?;
    let field = exif.get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)?;
    let exif::Value::Ascii(parts) = &field.value else { return None };
    let when = exif::DateTime::from_ascii(parts.first()?).ok()?;
    let valid = (1..=12).contains(&when.month)
        && (1..=31).contains(&when.day)
        && when.hour < 24
        && when.minute < 60
        && when.second < 61
        && when.year >= 1900;
    valid.then(|| {
        days_from_civil(i64::from(when.year), i64::from(when.month), i64::from(when.day)) * 86_400
            + i64::from(when.hour) * 3600
            + i64::from(when.minute) * 60
            + i64::from(when.second)
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

impl DuplicateStore {
    /// Fingerprints up to `BACKFILL_PER_LOOK` of the owner's photos that have none; answers how
    /// many are left.
    async fn backfill(&self, owner: OwnerId) -> Result<u32, AppError> {
        let (missing, total) = self.photos.db.unfingerprinted(owner, BACKFILL_PER_LOOK).await?;
        let mut done = 0;
        for (photo, thumbnail_key) in missing {
            // A storage or worker failure may pass: the photo is left for the next look. A
            // thumbnail that does not decode never will, and is marked so.
            let thumbnail = match self.photos.storage.get(&thumbnail_key).await {
                Ok(thumbnail) => thumbnail,
                Err(error) => {
                    tracing::warn!(%error, %photo, "a thumbnail to fingerprint could not be read");
                    continue;
                }
            };
            match fingerprint_thumbnail(&self.photos.images, thumbnail.to_vec()).await {
                Ok(fingerprint) => self.photos.db.save_fingerprint(photo, fingerprint, None).await?,
                Err(error @ (AppError::BadRequest(_) | AppError::UnsupportedType(_))) => {
                    tracing::warn!(%error, %photo, "a thumbnail does not decode; it is left out of near-duplicates");
                    self.photos.db.mark_unreadable(photo).await?;
                }
                Err(error) => {
                    tracing::warn!(%error, %photo, "a thumbnail could not be fingerprinted now");
                    continue;
                }
            }
            done += 1;
        }
        Ok(total.saturating_sub(done))
    }

    /// The owner's groups, best first in each, from the fingerprints stored now.
    async fn grouped(&self, owner: OwnerId) -> Result<Vec<DuplicateGroup>, AppError> {
        let candidates = self.photos.db.fingerprinted(owner).await?;
        // Capture times when every photo has one, else upload times for all: the two clocks
        // cannot be compared.
        let taken = candidates.iter().all(|c| c.taken_at.is_some());
        let shots: Vec<Shot> = candidates
            .iter()
            .map(|c| Shot {
                hash: c.fingerprint.hash,
                seconds: if taken { c.taken_at.unwrap_or(c.summary.created_at) } else { c.summary.created_at },
            })
            .collect();
        let clusters = tokio::task::spawn_blocking(move || similar::cluster(&shots, BURST_SECS))
            .await
            .or_internal("grouping photos")?;
        let mut slots: Vec<Option<Candidate>> = candidates.into_iter().map(Some).collect();
        let mut groups = Vec::with_capacity(clusters.len());
        for cluster in clusters {
            let members: Vec<Candidate> = cluster.members.iter().filter_map(|&i| slots.get_mut(i)?.take()).collect();
            groups.push(self.group(cluster, members));
        }
        // The biggest groups first: the most to tidy.
        groups.sort_by_key(|group| std::cmp::Reverse(group.photos.len()));
        Ok(groups)
    }

    fn group(&self, cluster: similar::Cluster, mut members: Vec<Candidate>) -> DuplicateGroup {
        members.sort_by(|a, b| {
            b.fingerprint
                .quality()
                .total_cmp(&a.fingerprint.quality())
                .then_with(|| pixels(b).cmp(&pixels(a)))
                .then_with(|| a.summary.created_at.cmp(&b.summary.created_at))
        });
        let kind = if cluster.burst { GroupKind::Burst } else { GroupKind::Copies };
        let why = match kind {
            GroupKind::Copies => {
                format!("{} copies of one picture (resized, re-encoded or lightly edited).", members.len())
            }
            GroupKind::Burst => format!(
                "A burst: {} alike photos taken within {} of each other.",
                members.len(),
                seconds(cluster.span_secs)
            ),
        };
        let best = members.first().map(|c| (c.fingerprint, pixels(c)));
        let photos = members
            .iter()
            .enumerate()
            .map(|(i, c)| DuplicatePhoto {
                photo: self.photos.with_links(c.summary.clone()),
                sharpness: c.fingerprint.sharpness,
                exposure: c.fingerprint.exposure,
                saved_versions: c.saved_versions,
                note: match best {
                    Some((best, best_pixels)) if i > 0 => shortfall(&c.fingerprint, pixels(c), &best, best_pixels),
                    _ => best_note(&c.fingerprint, &members[1..]),
                },
            })
            .collect();
        DuplicateGroup { kind, why, photos }
    }
}

fn pixels(candidate: &Candidate) -> u64 {
    u64::from(candidate.summary.width) * u64::from(candidate.summary.height)
}

fn seconds(span: i64) -> String {
    match span {
        0 | 1 => "a second".into(),
        n => format!("{n} seconds"),
    }
}

/// Why the first of a group is the best.
fn best_note(best: &Fingerprint, others: &[Candidate]) -> String {
    let sharpest = others.iter().all(|c| c.fingerprint.sharpness <= best.sharpness);
    let best_exposed = others.iter().all(|c| c.fingerprint.exposure <= best.exposure);
    match (sharpest, best_exposed) {
        (true, true) => "Best: the sharpest and best exposed".into(),
        (true, false) => "Best: the sharpest, and well enough exposed".into(),
        (false, true) => "Best: the best exposed, and sharp enough".into(),
        (false, false) => "Best: the best balance of sharpness and exposure".into(),
    }
}

/// How a photo falls short of the group's best.
fn shortfall(photo: &Fingerprint, photo_pixels: u64, best: &Fingerprint, best_pixels: u64) -> String {
    let mut reasons = Vec::new();
    if best.sharpness > 0.0 && photo.sharpness < best.sharpness * 0.8 {
        reasons.push(format!("{:.0} % as sharp as the best", 100.0 * photo.sharpness / best.sharpness));
    }
    if photo.exposure + 0.05 < best.exposure {
        reasons.push("less well exposed".to_string());
    }
    if photo_pixels < best_pixels {
        reasons.push("fewer pixels".to_string());
    }
    let said = reasons.join("; ");
    let mut chars = said.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "About as good as the best".into(),
    }
}

#[async_trait]
impl DuplicateService for DuplicateStore {
    async fn groups(&self, owner: OwnerId) -> Result<DuplicateReport, AppError> {
        let unchecked = self.backfill(owner).await?;
        Ok(DuplicateReport { groups: self.grouped(owner).await?, unchecked })
    }

    async fn keep(&self, owner: OwnerId, keep: PhotoId, others: Vec<PhotoId>) -> Result<u32, AppError> {
        let groups = self.grouped(owner).await?;
        let Some(group) = groups.iter().find(|g| g.photos.iter().any(|p| p.photo.id == keep)) else {
            // Not the owner's photo at all reads as not found; one with no look-alikes any more
            // (another was deleted meanwhile) says so.
            self.photos.db.photo(owner, keep).await?.ok_or(AppError::NotFound)?;
            return Err(AppError::BadRequest("This photo has no look-alikes any more; reload the page.".into()));
        };
        let members: HashSet<PhotoId> = group.photos.iter().map(|p| p.photo.id).collect();
        let mut deleted = 0;
        // Only photos still in the kept one's group: a list from a page shown before the group
        // changed never deletes a photo that is no longer a look-alike.
        for photo in others.into_iter().filter(|id| *id != keep && members.contains(id)).collect::<HashSet<_>>() {
            match self.photos.delete_photo(owner, photo).await {
                Ok(()) => deleted += 1,
                Err(AppError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_times_are_read_as_seconds_and_nonsense_is_ignored() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29) + 1, days_from_civil(2024, 3, 1));
        assert_eq!(taken_at(b"not an image"), None);
    }

    #[test]
    fn a_weaker_copy_says_how_it_falls_short() {
        let best = Fingerprint { hash: 0, sharpness: 400.0, exposure: 0.9 };
        let blurred = Fingerprint { hash: 0, sharpness: 40.0, exposure: 0.9 };
        assert_eq!(shortfall(&blurred, 100, &best, 100), "10 % as sharp as the best");
        let dark = Fingerprint { hash: 0, sharpness: 390.0, exposure: 0.5 };
        assert_eq!(shortfall(&dark, 50, &best, 100), "Less well exposed; fewer pixels");
        assert_eq!(shortfall(&best, 100, &best, 100), "About as good as the best");
    }
}
