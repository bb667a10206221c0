//! Storage reconciled against the database, as part of the retention sweep: stored objects that
//! no row owns (a process killed between storing a file and recording it, a late attempt of a job
//! that lost its lease, a delete that failed) are removed, and so are the staging files a killed
//! write leaves in the local store.
//!
//! Each object's key names the row that owns it (`storage::keys`, and the API keys' webhook
//! secrets); the object is live when that row still points at it, or when the row is a job or an
//! export still queued or running (its files are being written). An object of no known shape is
//! kept and logged, never deleted: a newer version's object, or an operator's, is not ours to
//! judge. Nothing younger than `GRACE_SECS` is touched, so a file stored a moment before its row
//! is inserted is never taken for an orphan.
//!
//! Work per run is bounded: at most `PER_RUN` objects are looked up (in batches), from a cursor
//! that moves through the key space run by run and starts again at the beginning after the last
//! key. A run happens at most every `EVERY_SECS` of the sweep's clock.
//!
//! S3 multipart uploads a killed process left incomplete are invisible to listing and cannot be
//! listed through `object_store`; the bucket's lifecycle rule `AbortIncompleteMultipartUpload`
//! removes them (README, "Crash safety").

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::TryStreamExt;
use sqlx::Row;

use crate::config::{Settings, StorageLocation};
use crate::platform::db::Db;
use crate::platform::storage::{Storage, StorageError};

/// How old an unowned object or a staging file must be before it is removed: far longer than
/// any write between storing a file and inserting its row.
pub const GRACE_SECS: i64 = 3600;
/// Objects looked up per run, at most.
const PER_RUN: usize = 20_000;
/// Ids per lookup query.
const BATCH: usize = 200;
/// The shortest time between two runs (sweeps can come every few seconds).
const EVERY_SECS: i64 = 15 * 60;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error("reading the local store's directory: {0}")]
    Io(#[from] std::io::Error),
    #[error("the directory walk stopped unexpectedly")]
    Join,
}

/// What one run found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reconciled {
    /// Objects looked up.
    pub checked: u64,
    /// Objects no row owns, older than the grace period: deleted.
    pub orphans_removed: u64,
    /// Objects no row owns yet, younger than the grace period: kept for a later run.
    pub young_orphans_kept: u64,
    /// Objects whose key has no known shape: kept, and logged.
    pub unknown_kept: u64,
    /// Staging files of writes that never finished (local store): deleted.
    pub partial_files_removed: u64,
}

/// The reconciler's state between runs (where the last run stopped; when it ran).
#[derive(Clone, Debug, Default)]
pub struct Reconcile {
    /// The local store's directory, whose staging files are looked at; `None` for S3.
    local_dir: Option<PathBuf>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    /// The last key the previous run looked at; `None`: start at the beginning.
    cursor: Option<String>,
    last_run: Option<i64>,
}

/// The tables whose rows own stored objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Owner {
    Photo,
    Version,
    Job,
    Export,
    ApiKey,
}

impl Owner {
    /// The table, its columns that hold object keys, and whether a row's `state` can say it is
    /// still being worked on (its files may not be recorded yet).
    fn table(self) -> (&'static str, &'static [&'static str], bool) {
        match self {
            Owner::Photo => ("photos", &["object_key", "thumbnail_key"], false),
            Owner::Version => ("versions", &["object_key", "thumbnail_key"], false),
            Owner::Job => ("jobs", &["mask_key", "result_key", "result_thumbnail_key"], true),
            Owner::Export => ("export_jobs", &["object_key"], true),
            Owner::ApiKey => ("api_keys", &["webhook_secret_key"], false),
        }
    }
}

/// The row that should own the object at `key` (its table and id), from the key's shape; `None`
/// when the key has no shape Atelier writes.
fn owner_of(key: &str) -> Option<(Owner, String)> {
    let parts: Vec<&str> = key.split('/').collect();
    let ["owners", owner, kind, id, rest @ ..] = parts.as_slice() else { return None };
    uuid::Uuid::parse_str(owner).ok()?;
    let (owning, id) = match (*kind, rest) {
        ("photos", ["original" | "thumbnail"]) => (Owner::Photo, *id),
        ("versions", ["image" | "thumbnail"]) => (Owner::Version, *id),
        ("jobs", ["mask"]) => (Owner::Job, *id),
        ("jobs", [name]) if attempt_of(name).is_some() => (Owner::Job, *id),
        ("exports", []) => (Owner::Export, id.strip_suffix(".zip")?),
        ("api-keys", ["webhook-secret"]) => (Owner::ApiKey, *id),
        _ => return None,
    };
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some((owning, id.to_string()))
}

/// `result-3` or `thumbnail-3`: a job result's attempt number.
fn attempt_of(name: &str) -> Option<u64> {
    let number = name.strip_prefix("result-").or_else(|| name.strip_prefix("thumbnail-"))?;
    number.parse().ok()
}

/// A staging file of `object_store`'s local store: `<key>#<digits>`, written before it is
/// renamed into place (a whole `put`, or a multipart upload's parts). One left behind is a write
/// that never finished. Listing never shows them, and no key Atelier writes contains `#`.
fn is_staging_file(name: &str) -> bool {
    name.rsplit_once('#').is_some_and(|(_, suffix)| !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()))
}

/// Rows that own objects: for each id found, the keys it points at and whether it is still
/// being worked on.
struct Owned {
    keys: HashSet<String>,
    busy: HashSet<String>,
    found: HashSet<String>,
}

impl Db {
    async fn objects_owned(&self, owning: Owner, ids: &[String]) -> Result<Owned, sqlx::Error> {
        let (table, columns, has_state) = owning.table();
        let mut owned = Owned { keys: HashSet::new(), busy: HashSet::new(), found: HashSet::new() };
        for ids in ids.chunks(BATCH) {
            let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
            let state = if has_state { ", state" } else { "" };
            // Table and column names are this file's constants; the ids are bound.
            let sql = format!(
                "SELECT id, {}{state} FROM {table} WHERE id IN ({})",
                columns.join(", "),
                placeholders.join(", ")
            );
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in ids {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(self.pool()).await? {
                let id: String = row.try_get("id")?;
                for column in columns {
                    if let Some(key) = row.try_get::<Option<String>, _>(*column)? {
                        owned.keys.insert(key);
                    }
                }
                if has_state && matches!(row.try_get::<String, _>("state")?.as_str(), "queued" | "running") {
                    owned.busy.insert(id.clone());
                }
                owned.found.insert(id);
            }
        }
        Ok(owned)
    }
}

impl Reconcile {
    /// For the store the settings name: a local directory's staging files are looked at too.
    pub fn for_settings(settings: &Settings) -> Self {
        let local_dir = match settings.storage_location() {
            Ok(StorageLocation::Local(dir)) => Some(dir),
            _ => None,
        };
        Self { local_dir, state: Arc::default() }
    }

    /// One run at `now` (the sweep's clock), unless one ran less than `EVERY_SECS` earlier.
    pub async fn run(&self, db: &Db, storage: &Storage, now: i64) -> Result<Reconciled, ReconcileError> {
        let cursor = {
            let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            if state.last_run.is_some_and(|last| now < last + EVERY_SECS && now >= last) {
                return Ok(Reconciled::default());
            }
            state.last_run = Some(now);
            state.cursor.clone()
        };
        let (window, more) = next_window(storage, cursor.as_deref()).await?;
        let next_cursor = if more { window.keys().next_back().cloned() } else { None };
        let mut done = check(db, storage, window, now - GRACE_SECS).await?;
        if let Some(dir) = &self.local_dir {
            done.partial_files_removed = remove_staging_files(dir.clone(), now - GRACE_SECS).await?;
        }
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).cursor = next_cursor;
        tracing::info!(
            checked = done.checked,
            orphans_removed = done.orphans_removed,
            young_orphans_kept = done.young_orphans_kept,
            unknown_kept = done.unknown_kept,
            partial_files_removed = done.partial_files_removed,
            "storage reconciled with the database"
        );
        Ok(done)
    }
}

/// The first `PER_RUN` keys after `cursor`, in key order, with their times; and whether more
/// keys follow. Stores need not list in order (the local store does not), so the listing is
/// read to its end, keeping the smallest keys; while it has come in order (S3 lists in key
/// order), it stops once past a full window: if it then came out of order after all, the keys
/// it skipped are only checked on a later pass, never wrongly deleted.
async fn next_window(storage: &Storage, cursor: Option<&str>) -> Result<(BTreeMap<String, i64>, bool), StorageError> {
    let mut window = BTreeMap::new();
    let mut more = false;
    let mut in_order = true;
    let mut previous: Option<String> = None;
    let mut listing = std::pin::pin!(storage.list_modified(cursor));
    while let Some(listed) = listing.try_next().await? {
        in_order &= previous.as_deref().is_none_or(|previous| previous < listed.key.as_str());
        previous = Some(listed.key.clone());
        if cursor.is_some_and(|cursor| listed.key.as_str() <= cursor) {
            continue;
        }
        let full = window.len() >= PER_RUN;
        if full && in_order && window.keys().next_back().is_some_and(|last: &String| *last < listed.key) {
            more = true;
            break;
        }
        window.insert(listed.key, listed.modified);
        if window.len() > PER_RUN {
            window.pop_last();
            more = true;
        }
    }
    Ok((window, more))
}

/// Looks up the owners of `window`'s objects and deletes those no row owns, written at or
/// before `old_before`.
async fn check(
    db: &Db,
    storage: &Storage,
    window: BTreeMap<String, i64>,
    old_before: i64,
) -> Result<Reconciled, ReconcileError> {
    let mut done = Reconciled { checked: window.len() as u64, ..Reconciled::default() };
    let mut by_owner: BTreeMap<Owner, Vec<(String, String, i64)>> = BTreeMap::new();
    for (key, modified) in window {
        match owner_of(&key) {
            Some((owning, id)) => by_owner.entry(owning).or_default().push((key, id, modified)),
            None => {
                done.unknown_kept += 1;
                tracing::warn!(object = %key, "a stored object of no known kind is kept");
            }
        }
    }
    for (owning, objects) in by_owner {
        let ids: Vec<String> =
            objects.iter().map(|(_, id, _)| id.clone()).collect::<HashSet<_>>().into_iter().collect();
        let owned = db.objects_owned(owning, &ids).await?;
        for (key, id, modified) in objects {
            if owned.keys.contains(&key) || owned.busy.contains(&id) {
                continue;
            }
            if modified > old_before {
                done.young_orphans_kept += 1;
                continue;
            }
            // Logged by kind only: the key holds the workspace's id.
            let why = if owned.found.contains(&id) { "not the file its row points at" } else { "no row" };
            tracing::info!(kind = ?owning, why, "removing an orphaned stored object");
            storage.delete(&key).await?;
            done.orphans_removed += 1;
        }
    }
    Ok(done)
}

/// Deletes the local store's staging files last written at or before `old_before` (Unix
/// seconds), at most `PER_RUN` per run; returns how many went.
async fn remove_staging_files(dir: PathBuf, old_before: i64) -> Result<u64, ReconcileError> {
    tokio::task::spawn_blocking(move || -> Result<u64, ReconcileError> {
        let mut removed = 0;
        let mut pending = vec![dir];
        while let Some(dir) = pending.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // A directory removed meanwhile (an erased workspace) or never made.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(error.into()),
            };
            for entry in entries {
                let entry = entry?;
                // Never through links: the store's tree holds none of its own.
                let kind = entry.file_type()?;
                if kind.is_dir() {
                    pending.push(entry.path());
                } else if kind.is_file()
                    && entry.file_name().to_str().is_some_and(is_staging_file)
                    && written_at(&entry.path()).is_some_and(|at| at <= old_before)
                {
                    match std::fs::remove_file(entry.path()) {
                        Ok(()) => removed += 1,
                        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                        Err(error) => return Err(error.into()),
                    }
                    if removed >= PER_RUN as u64 {
                        return Ok(removed);
                    }
                }
            }
        }
        Ok(removed)
    })
    .await
    .map_err(|_| ReconcileError::Join)?
}

/// When a file was last written, in Unix seconds.
fn written_at(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).and_then(|meta| meta.modified()).ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_secs()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWNER: &str = "0b7c3a52-53a4-4c55-9a9c-6f8f3f8f3f8f";
    const ID: &str = "5f0e8a4e-2d1c-4b7a-8c3e-1a2b3c4d5e6f";

    #[test]
    fn every_key_atelier_writes_names_its_owning_row() {
        use crate::platform::storage::keys;
        use app::ids::{JobId, OwnerId, PhotoId, VersionId};
        let owner: OwnerId = OWNER.parse().unwrap();
        let id = uuid::Uuid::parse_str(ID).unwrap();
        let (original, thumbnail) = keys::photo(owner, PhotoId(id));
        let (image, version_thumbnail) = keys::version(owner, VersionId(id));
        let (result, result_thumbnail) = keys::job_result(owner, JobId(id), 2);
        let expected = [
            (original, Owner::Photo),
            (thumbnail, Owner::Photo),
            (image, Owner::Version),
            (version_thumbnail, Owner::Version),
            (result, Owner::Job),
            (result_thumbnail, Owner::Job),
            (keys::job_mask(owner, JobId(id)), Owner::Job),
            (keys::export(owner, id), Owner::Export),
            (format!("owners/{OWNER}/api-keys/{ID}/webhook-secret"), Owner::ApiKey),
        ];
        for (key, owning) in expected {
            assert_eq!(owner_of(&key), Some((owning, ID.to_string())), "{key}");
        }
    }

    #[test]
    fn keys_of_no_known_shape_have_no_owner() {
        for key in [
            "archive",
            "atelier-probe/never-written",
            &format!("owners/{OWNER}/photos/{ID}/original/extra"),
            &format!("owners/{OWNER}/photos/not-a-uuid/original"),
            &format!("owners/not-a-uuid/photos/{ID}/original"),
            &format!("owners/{OWNER}/jobs/{ID}/result-x"),
            &format!("owners/{OWNER}/exports/{ID}"),
            &format!("owners/{OWNER}/something-new/{ID}/file"),
        ] {
            assert_eq!(owner_of(key), None, "{key}");
        }
    }

    #[test]
    fn only_numbered_suffixes_are_staging_files() {
        assert!(is_staging_file("original#1"));
        assert!(is_staging_file("0190.zip#12"));
        assert!(!is_staging_file("original"));
        assert!(!is_staging_file("original#"));
        assert!(!is_staging_file("original#a1"));
    }
}
