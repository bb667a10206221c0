//! Search in the workspace and the gallery: keywords through the database's full-text index, and
//! meaning through sentence embeddings compared in memory, ranked together by reciprocal rank
//! fusion; people the owner named, when People is on.

pub mod index;
pub mod repo;
pub mod vector;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use app::error::AppError;
use app::ids::{OwnerId, PhotoId};
use app::search::{Reason, SearchHit, SearchQuery, SearchResults, SearchService, MAX_QUERY_CHARS, MAX_RESULTS};
use async_trait::async_trait;

use crate::ai_tools::AiStore;
use crate::platform::error::OrInternal;
use crate::search::repo::Filter;
use crate::search::vector::Packed;

pub use index::{photo_changed, INDEX};

/// Most words read from a query.
const MAX_TERMS: usize = 12;
/// Candidates each ranking contributes to the fusion.
const CANDIDATES: usize = 200;
/// A description this close to the query means the same thing (calibrated on all-MiniLM-L6-v2:
/// paraphrases score 0.4–0.7, unrelated sentences under 0.2).
const MEANING_THRESHOLD: f32 = 0.3;
/// Reciprocal rank fusion's constant: a result's score is the sum of 1/(K + rank).
const FUSION_K: f32 = 60.0;
/// Workspaces whose vectors stay in memory.
const CACHED_OWNERS: usize = 32;

type Vectors = Arc<Vec<(PhotoId, Packed)>>;
/// The index's entry count and last write when the vectors were read.
type Stamp = (i64, i64);

pub struct SearchStore {
    pub ai: Arc<AiStore>,
    /// Each workspace's embeddings with the stamp they were read at (entries, last write), so a
    /// search reads them again only after the index changed.
    vectors: Mutex<HashMap<OwnerId, (Stamp, Vectors)>>,
}

impl SearchStore {
    pub fn new(ai: Arc<AiStore>) -> Self {
        Self { ai, vectors: Mutex::new(HashMap::new()) }
    }

    async fn vectors(&self, owner: OwnerId) -> Result<Vectors, AppError> {
        let stamp = self.ai.db.index_stamp(owner).await?;
        if let Some((at, vectors)) = self.vectors.lock().map_err(|_| AppError::Internal)?.get(&owner) {
            if *at == stamp {
                return Ok(vectors.clone());
            }
        }
        let vectors = Arc::new(self.ai.db.owner_vectors(owner).await?);
        let mut cache = self.vectors.lock().map_err(|_| AppError::Internal)?;
        if cache.len() >= CACHED_OWNERS && !cache.contains_key(&owner) {
            // Any one out: a workspace searched again just reads its vectors again.
            if let Some(old) = cache.keys().next().copied() {
                cache.remove(&old);
            }
        }
        cache.insert(owner, (stamp, vectors.clone()));
        Ok(vectors)
    }

    /// The owner's photos nearest the query in meaning, best first; empty without the model.
    async fn by_meaning(&self, owner: OwnerId, text: &str) -> Result<Vec<PhotoId>, AppError> {
        let Ok(engine) = self.ai.engine.clone() else { return Ok(Vec::new()) };
        if !engine.is_installed(ai::embed::MODEL) || !text.chars().any(char::is_alphabetic) {
            return Ok(Vec::new());
        }
        let vectors = self.vectors(owner).await?;
        if vectors.is_empty() {
            return Ok(Vec::new());
        }
        let text = text.to_string();
        let query = tokio::task::spawn_blocking(move || ai::embed::embed(&engine, &text))
            .await
            .or_internal("embedding a query")?;
        let query = match query {
            Ok(query) => query,
            Err(error) => {
                // Words still work: the search answers with them alone.
                tracing::warn!(%error, "embedding a query failed");
                return Ok(Vec::new());
            }
        };
        let mut scored: Vec<(f32, PhotoId)> = vectors
            .iter()
            .map(|(id, packed)| (packed.similarity(&query), *id))
            .filter(|(score, _)| *score >= MEANING_THRESHOLD)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(CANDIDATES);
        Ok(scored.into_iter().map(|(_, id)| id).collect())
    }
}

/// The query's terms as the keyword index holds words (see `index::words`), with colour codes
/// ("#c00", "#cc0000") read as the colour's name.
pub fn terms(text: &str) -> Vec<String> {
    let mut terms = Vec::new();
    for raw in text.split_whitespace() {
        if let Some(colour) = raw.strip_prefix('#').and_then(hex_colour) {
            terms.push(ai::describe::colour_name(colour).to_string());
            continue;
        }
        terms.extend(ai::embed::words(raw).into_iter().filter(|w| index::is_term(w)));
    }
    let mut seen = HashSet::new();
    terms.retain(|t| seen.insert(t.clone()));
    terms.truncate(MAX_TERMS);
    terms
}

fn hex_colour(hex: &str) -> Option<[f32; 3]> {
    let digits: Vec<u8> =
        hex.chars().map(|c| c.to_digit(16).and_then(|d| u8::try_from(d).ok())).collect::<Option<_>>()?;
    let channel = |i: usize| -> f32 {
        match digits.len() {
            3 => f32::from(digits[i] * 17),
            _ => f32::from(digits[2 * i] * 16 + digits[2 * i + 1]),
        }
    };
    matches!(digits.len(), 3 | 6).then(|| [channel(0), channel(1), channel(2)])
}

fn filter(query: &SearchQuery) -> Result<Filter, AppError> {
    let day = |text: &str, what: &str| -> Result<Option<i64>, AppError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        app::ui::format::parse_day(text)
            .map(Some)
            .ok_or_else(|| AppError::BadRequest(format!("The {what} date is not a date (YYYY-MM-DD).")))
    };
    Ok(Filter {
        from: day(&query.from, "from")?,
        until: day(&query.to, "to")?.map(|day| day + 86_400),
        saved: query.saved,
        has_faces: query.has_faces,
        has_text: query.has_text,
    })
}

/// Reciprocal rank fusion of ranked lists: what several rankings agree on rises.
fn fuse(lists: &[&[PhotoId]]) -> Vec<PhotoId> {
    let mut scores: HashMap<PhotoId, f32> = HashMap::new();
    let mut order = Vec::new();
    for list in lists {
        for (rank, id) in list.iter().enumerate() {
            let score = scores.entry(*id).or_insert_with(|| {
                order.push(*id);
                0.0
            });
            *score += 1.0 / (FUSION_K + rank as f32 + 1.0);
        }
    }
    // Stable: ties keep the order in which the lists first named them.
    order.sort_by(|a, b| scores[b].total_cmp(&scores[a]));
    order
}

/// Whether some term begins a word of the text (how the full-text query matched it).
fn mentions(text: &str, terms: &[String]) -> bool {
    let words = ai::embed::words(text);
    terms.iter().any(|term| words.iter().any(|word| word.starts_with(term.as_str())))
}

#[async_trait]
impl SearchService for SearchStore {
    async fn search(&self, owner: OwnerId, query: SearchQuery) -> Result<SearchResults, AppError> {
        let text: String = query.text.chars().take(MAX_QUERY_CHARS).collect();
        let filter = filter(&query)?;
        let terms = terms(&text);
        let db = &self.ai.db;
        let limit = CANDIDATES as i64;
        let (words, meaning, people) = if terms.is_empty() {
            (Vec::new(), Vec::new(), Vec::new())
        } else {
            // The query's embedding is computed while the database answers.
            let (words, meaning) =
                tokio::join!(db.keyword_matches(owner, &terms, &filter, limit), self.by_meaning(owner, &text));
            let (words, meaning) = (words?, meaning?);
            let meaning = if filter.is_empty() || meaning.is_empty() {
                meaning
            } else {
                let passing = db.passing(owner, &meaning, &filter).await?;
                meaning.into_iter().filter(|id| passing.contains(id)).collect()
            };
            let people = db.photos_of_named(owner, &terms, &filter, limit).await?;
            (words, meaning, people)
        };
        let ranked = if terms.is_empty() {
            // Filters alone: the newest photos that pass them.
            if filter.is_empty() {
                Vec::new()
            } else {
                db.filtered(owner, &filter, MAX_RESULTS as i64).await?
            }
        } else {
            fuse(&[&people, &words, &meaning])
        };
        let ranked: Vec<PhotoId> = ranked.into_iter().take(MAX_RESULTS).collect();
        let mut found: HashMap<PhotoId, _> =
            db.found(owner, &ranked).await?.into_iter().map(|f| (f.summary.id, f)).collect();
        let (words, meaning, people): (HashSet<_>, HashSet<_>, HashSet<_>) =
            (words.into_iter().collect(), meaning.into_iter().collect(), people.into_iter().collect());
        let hits = ranked
            .iter()
            .filter_map(|id| found.remove(id))
            .map(|found| {
                let id = found.summary.id;
                let mut reasons = Vec::new();
                if people.contains(&id) {
                    reasons.push(Reason::Person);
                }
                if words.contains(&id) {
                    let in_text = found.summary.ocr_text.as_deref().is_some_and(|t| mentions(t, &terms));
                    reasons.push(if in_text { Reason::Text } else { Reason::Words });
                }
                if meaning.contains(&id) {
                    reasons.push(Reason::Meaning);
                }
                SearchHit { photo: self.ai.photos.with_links(found.summary), reasons, saved: found.saved }
            })
            .collect();
        Ok(SearchResults { hits, pending: db.photos_not_indexed(owner).await? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_terms_are_plain_words_and_colour_codes_are_colours() {
        assert_eq!(terms("Beach  HOLIDAY, beach!"), ["beach", "holiday"]);
        assert_eq!(terms("#c00 #00ff00 car"), ["red", "green", "car"]);
        assert_eq!(terms("\"x\" OR y* AND -z NEAR(a)"), ["x", "or", "y", "and", "z", "near", "a"]);
        assert!(terms(" ' : * ").is_empty(), "nothing of a query language passes");
    }

    #[test]
    fn fusion_raises_what_both_rankings_found() {
        let ids: Vec<PhotoId> = (0..4).map(|_| PhotoId(uuid::Uuid::new_v4())).collect();
        let fused = fuse(&[&[ids[0], ids[1], ids[2]], &[ids[3], ids[2]]]);
        assert_eq!(fused[0], ids[2], "found by both");
        assert_eq!(fused.len(), 4);
    }

    #[test]
    fn dates_that_are_not_dates_are_refused() {
        let query = SearchQuery { from: "2026-02-30".into(), ..SearchQuery::default() };
        assert!(matches!(filter(&query), Err(AppError::BadRequest(_))));
        let query = SearchQuery { from: "2026-11-18".into(), to: "2026-11-18".into(), ..SearchQuery::default() };
        let filter = filter(&query).unwrap();
        assert_eq!(filter.until.unwrap() - filter.from.unwrap(), 86_400, "the last day is included");
    }
}
