//! Progress of the zips being written, for the page that asked for one: the browser saves the
//! zip itself (streamed, straight to disk) and asks here, by a token it chose, how far it is.
//! Kept in this process's memory only — it is gone in minutes and says nothing about the
//! photos but a file name — bounded in entries and age.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use app::ids::OwnerId;
use app::optimize::ZipProgress;

/// How long a zip's progress is kept after its last change.
const KEPT_FOR: Duration = Duration::from_secs(10 * 60);
/// The most zips followed at once in one process; the oldest is forgotten first.
const MOST: usize = 1024;

/// Each zip followed: its progress and when it last changed, by its owner and token.
type Entries = HashMap<(OwnerId, String), (ZipProgress, Instant)>;

/// Clones share one board.
#[derive(Clone, Debug, Default)]
pub struct ProgressBoard {
    entries: Arc<Mutex<Entries>>,
}

impl ProgressBoard {
    /// A token a page may choose: 8 to 64 letters, digits, '-' or '_'.
    pub fn valid_token(token: &str) -> bool {
        (8..=64).contains(&token.len()) && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    pub fn set(&self, owner: OwnerId, token: &str, progress: ZipProgress) {
        let Ok(mut entries) = self.entries.lock() else { return };
        let now = Instant::now();
        entries.retain(|_, (_, changed)| now.duration_since(*changed) < KEPT_FOR);
        if entries.len() >= MOST && !entries.contains_key(&(owner, token.to_string())) {
            if let Some(oldest) = entries.iter().min_by_key(|(_, (_, changed))| *changed).map(|(key, _)| key.clone()) {
                entries.remove(&oldest);
            }
        }
        entries.insert((owner, token.to_string()), (progress, now));
    }

    /// The owner's zip under `token`, if this process is writing it or wrote it lately.
    pub fn get(&self, owner: OwnerId, token: &str) -> Option<ZipProgress> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&(owner, token.to_string()))
            .filter(|(_, changed)| changed.elapsed() < KEPT_FOR)
            .map(|(progress, _)| progress.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_the_owners_alone_and_tokens_are_checked() {
        let board = ProgressBoard::default();
        let (mine, theirs) = (OwnerId(uuid::Uuid::new_v4()), OwnerId(uuid::Uuid::new_v4()));
        let progress = ZipProgress { total: 3, done: 1, current: Some("a.jpg".into()), ..ZipProgress::default() };
        board.set(mine, "token-123", progress.clone());
        assert_eq!(board.get(mine, "token-123"), Some(progress));
        assert_eq!(board.get(theirs, "token-123"), None);
        assert!(ProgressBoard::valid_token("abcDEF12-_"));
        assert!(!ProgressBoard::valid_token("short") && !ProgressBoard::valid_token("no spaces here"));
        for n in 0..MOST + 10 {
            board.set(mine, &format!("token-{n:05}"), ZipProgress::default());
        }
        assert!(board.entries.lock().unwrap().len() <= MOST, "bounded");
    }
}
