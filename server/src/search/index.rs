//! The index job: after an upload, or a change of a photo's description or text, it reads what
//! the photo shows (objects, faces, colours, text in it) and writes its words and the embedding
//! of its description. One job per workspace at a time, a few photos per run, so it never holds a
//! worker long while people wait for their own tools.

use std::sync::Arc;

use ai::describe::{CameraFacts, Description};
use app::ids::{OwnerId, PhotoId};

use crate::ai_tools::queue::{Claimed, JobProgress, Outcome};
use crate::ai_tools::tools::{self, Failure};
use crate::ai_tools::AiStore;
use crate::platform::db::Db;
use crate::platform::images;
use crate::search::repo::{Entry, Source};
use crate::search::vector::Packed;

/// The job's name in the queue, as the worker dispatches it.
pub const INDEX: &str = "index";
/// Photos per run; a run that filled it queues the next.
const PER_RUN: i64 = 16;
const MAX_ATTEMPTS: i64 = 3;
/// Text in the photo beyond this adds little to its meaning (the words index keeps it all).
const EMBEDDED_TEXT_CHARS: usize = 400;

const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Queues the workspace's index job unless one is already waiting (see `queue_workspace_job`).
pub async fn queue(db: &Db, owner: OwnerId) -> Result<bool, sqlx::Error> {
    db.queue_workspace_job(owner, INDEX, MAX_ATTEMPTS).await
}

/// Called when a photo is stored (`photo` None: it is new, so not in the index) or its
/// description or text changed. A failure is logged, never the caller's: the next change queues
/// the job again, and until then the photo is found by what the index had.
pub async fn photo_changed(db: &Db, owner: OwnerId, changed: Option<PhotoId>) {
    let result = async {
        if let Some(photo) = changed {
            db.mark_index_stale(owner, photo).await?;
        }
        queue(db, owner).await
    };
    if let Err(error) = result.await {
        tracing::warn!(%error, "could not queue the search index job");
    }
}

/// Runs one claimed index job.
pub async fn job(store: Arc<AiStore>, job: Claimed, progress: Arc<JobProgress>) -> Result<Outcome, Failure> {
    let owner = job.owner;
    let todo = store.db.photos_to_index(owner, PER_RUN).await.map_err(|e| Failure::internal("listing photos", e))?;
    let engine = store.engine.clone().ok();
    let mut done = 0;
    for photo in &todo {
        ai::Progress::step(progress.as_ref(), done as f32 / todo.len() as f32)?;
        index_photo(&store, engine.clone(), owner, *photo).await?;
        done += 1;
        // Someone asked for a tool meanwhile: the worker is theirs after this photo.
        if done < todo.len() && store.db.tools_waiting().await.map_err(|e| Failure::internal("reading the queue", e))? {
            break;
        }
    }
    if done < todo.len() || todo.len() as i64 == PER_RUN {
        // More may wait: the next run is queued behind whatever people asked for meanwhile.
        queue(&store.db, owner).await.map_err(|e| Failure::internal("queueing the index job", e))?;
    }
    Ok(Outcome { detail: Some(format!("Indexed {done} photos.")), ..Outcome::default() })
}

/// What the models found in one photo.
#[derive(Default)]
struct Seen {
    description: Option<Description>,
    ocr: Option<String>,
    embedding: Option<Packed>,
}

async fn index_photo(
    store: &AiStore,
    engine: Option<Arc<ai::Engine>>,
    owner: OwnerId,
    photo: PhotoId,
) -> Result<(), Failure> {
    let db = &store.db;
    let Some(source) = db.index_source(owner, photo).await.map_err(|e| Failure::internal("reading a photo", e))? else {
        return Ok(()); // deleted meanwhile
    };
    let camera = db.camera_facts(photo).await.map_err(|e| Failure::internal("reading a photo", e))?;
    // A held photo, or one whose file cannot be read, is indexed by its name and text alone.
    let bytes = match tools::photo_bytes(store, owner, photo).await {
        Ok((_, bytes)) => Some(bytes),
        Err(Failure::Permanent(_)) => None,
        Err(other) => return Err(other),
    };
    let max_pixels = store.photos.images.max_pixels;
    let needs_ocr = source.ocr_text.is_none();
    let person_text = described_by_person(&source);
    let seen = tokio::task::spawn_blocking({
        let camera = camera.clone();
        move || look(engine.as_deref(), bytes.as_deref(), max_pixels, camera.as_ref(), needs_ocr, &person_text)
    })
    .await
    .map_err(|e| Failure::internal("indexing a photo", e))?;
    if let Some(text) = &seen.ocr {
        db.set_ocr_text(owner, photo, text).await.map_err(|e| Failure::internal("keeping a photo's text", e))?;
    }
    let ocr = seen.ocr.as_deref().or(source.ocr_text.as_deref());
    let entry = Entry {
        photo,
        owner,
        words: words(&source, seen.description.as_ref(), camera.as_ref(), ocr),
        faces: seen.description.as_ref().map_or(0, |d| i64::try_from(d.faces).unwrap_or(i64::MAX)),
        embedding: seen.embedding,
    };
    db.store_index(&entry).await.map_err(|e| Failure::internal("writing the search index", e))?;
    Ok(())
}

/// The models' part, on a blocking thread. Each model that is missing or fails is left out (and
/// logged): the photo is still found by everything else.
fn look(
    engine: Option<&ai::Engine>,
    bytes: Option<&[u8]>,
    max_pixels: u64,
    camera: Option<&CameraFacts>,
    needs_ocr: bool,
    person_text: &str,
) -> Seen {
    let mut seen = Seen::default();
    let Some(engine) = engine else { return seen };
    let image = bytes.and_then(|bytes| match images::decode(bytes, max_pixels) {
        Ok(image) => Some(image.to_rgb8()),
        Err(error) => {
            tracing::warn!(%error, "indexing: the photo could not be decoded");
            None
        }
    });
    if let Some(image) = &image {
        seen.description = ai::describe::describe(engine, image, camera, &ai::Quiet)
            .map_err(|error| tracing::warn!(%error, "indexing: describing failed"))
            .ok();
        if needs_ocr && engine.is_installed(ai::ocr::DETECTOR) && engine.is_installed(ai::ocr::RECOGNIZER) {
            seen.ocr = ai::ocr::read_text(engine, image, &ai::Quiet)
                .map(|lines| ai::ocr::joined(&lines))
                .map_err(|error| tracing::warn!(%error, "indexing: reading text failed"))
                .ok();
        }
    }
    let machine = seen.description.as_ref().map(|d| d.alt_text.as_str()).unwrap_or_default();
    let text = meaning_text(person_text, machine, seen.ocr.as_deref().unwrap_or_default());
    if !text.is_empty() && engine.is_installed(ai::embed::MODEL) {
        seen.embedding = ai::embed::embed(engine, &text)
            .map(|vector| Packed::pack(&vector))
            .map_err(|error| tracing::warn!(%error, "indexing: embedding failed"))
            .ok();
    }
    seen
}

/// What the person wrote or accepted about the photo: its alt-text, tags and text.
fn described_by_person(source: &Source) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.extend(source.alt_text.clone());
    if !source.tags.is_empty() {
        parts.push(source.tags.join(", "));
    }
    parts.extend(source.ocr_text.as_ref().map(|t| t.chars().take(EMBEDDED_TEXT_CHARS).collect::<String>()));
    parts.join(". ")
}

/// The text whose meaning is searched: the person's description, else the machine's sentence,
/// and the text read in the photo.
fn meaning_text(person: &str, machine: &str, ocr: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if person.trim().is_empty() {
        parts.push(machine);
    } else {
        parts.push(person);
    }
    let ocr: String = ocr.chars().take(EMBEDDED_TEXT_CHARS).collect();
    if !person.contains(ocr.as_str()) {
        parts.push(&ocr);
    }
    parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()).collect::<Vec<_>>().join(". ")
}

/// Every searchable word of a photo, as the keyword index keeps them: lower case, no accents,
/// letters and digits only (so a query's words match whatever punctuation surrounded them).
pub fn words(source: &Source, seen: Option<&Description>, camera: Option<&CameraFacts>, ocr: Option<&str>) -> String {
    let name = source.name.rsplit_once('.').map_or(source.name.as_str(), |(stem, _)| stem);
    let mut text = vec![name.to_string()];
    text.extend(source.tags.iter().cloned());
    text.extend(source.alt_text.clone());
    match seen {
        // The detectors' tags hold the objects, main colours and camera already.
        Some(seen) => {
            text.extend(seen.tags.iter().cloned());
            text.push(seen.alt_text.clone());
            if seen.faces > 0 {
                text.push(if seen.faces == 1 { "face person".into() } else { "faces people".into() });
            }
        }
        None => text.extend(camera.and_then(|c| c.camera.clone())),
    }
    text.extend(ocr.map(str::to_string));
    let (year, month, _) = app::ui::format::date_of(source.taken_at.unwrap_or(source.created_at));
    text.push(format!("{year} {}", MONTHS[(month as usize).saturating_sub(1) % 12]));
    let words: Vec<String> = ai::embed::words(&text.join(" ")).into_iter().filter(|w| is_term(w)).collect();
    words.join(" ")
}

/// Whether a word can be a term: letters and digits only (no operator of either full-text
/// query language).
pub fn is_term(word: &str) -> bool {
    !word.is_empty() && word.chars().all(char::is_alphanumeric)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source {
        Source {
            name: "Beach-day.JPG".into(),
            tags: vec!["Holiday".into()],
            alt_text: Some("Anna on the sand".into()),
            ocr_text: None,
            created_at: 1_795_000_000,
            taken_at: None,
        }
    }

    #[test]
    fn words_are_lower_case_plain_and_dated() {
        let words = words(&source(), None, None, Some("CAFÉ «Olé»\nOpen 9–17"));
        assert_eq!(words, "beach day holiday anna on the sand cafe ole open 9 17 2026 november");
    }

    #[test]
    fn the_meaning_is_the_persons_words_when_there_are_some() {
        assert_eq!(meaning_text("Anna on the sand", "a person", "SALE"), "Anna on the sand. SALE");
        assert_eq!(meaning_text("", "a person outdoors", ""), "a person outdoors");
        assert_eq!(meaning_text("Menu. SALE", "", "SALE"), "Menu. SALE", "text already in it is not repeated");
    }
}
