//! `atelier backup DIR` and `atelier restore DIR` for the embedded setup (a SQLite file and
//! objects on local disk). A backup is a consistent snapshot of the database (`VACUUM INTO`
//! reads one transaction's view, so the server may keep running), a copy of the objects, and a
//! `manifest.json` written last: what was copied, each file's size and SHA-256, row counts, and
//! the ids of the key-encryption keys the objects need. Never the keys: the keyring stays apart
//! from the data on purpose (a copy of the data alone reveals nothing), so it is backed up apart.
//!
//! Objects are sealed and written once, so copying them while the server runs is safe: one
//! written after the snapshot has no row, and the retention sweep removes it as an orphan after
//! a restore; one deleted during the copy (an erasure or an expiry under way) is left out and
//! counted, and the snapshot's row for it, if any, is of something that was being deleted.
//! Postgres and S3 have their own tools (pg_dump, bucket versioning): see the README's "Backups".

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use anyhow::{bail, Context};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row};

use crate::config::{Settings, StorageLocation};
use crate::platform::crypto::{hex, Keyring};

pub const MANIFEST: &str = "manifest.json";
const DATABASE_FILE: &str = "atelier.db";
const OBJECTS_DIR: &str = "objects";
/// Raised when the layout of a backup changes; a restore refuses formats it does not know.
const FORMAT: u32 = 1;
/// A sealed object's header names its KEK within its first 260 bytes (magic, length, id).
const HEADER_BYTES: usize = 512;
const COPY_BUFFER: usize = 1024 * 1024;
/// A manifest lists every object (about 150 bytes each): this allows millions and still refuses
/// a file that is not a manifest before reading it all into memory.
const MAX_MANIFEST_BYTES: u64 = 512 * 1024 * 1024;
/// How long the snapshot waits for a writer holding the database.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

const NOT_EMBEDDED: &str = "`atelier backup` and `atelier restore` cover the embedded setup only (a SQLite \
     database and objects on local disk). With Postgres or S3 storage, use their own tools: pg_dump / pg_restore \
     for the database, bucket versioning or a bucket sync for the objects, and a separate copy of the keyring \
     (see \"Backups\" in the README)";

/// What `manifest.json` says.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    /// The Atelier version that made the backup.
    pub atelier_version: String,
    /// Unix seconds.
    pub created_at: i64,
    pub database: FileEntry,
    /// Rows per table in the snapshot.
    pub rows: BTreeMap<String, i64>,
    pub objects: Vec<FileEntry>,
    /// The keyring's KEK ids when the backup was made (ids only, never key material).
    pub keyring_ids: Vec<String>,
    /// The KEKs the copied objects are sealed with: a restore needs each in its keyring.
    pub required_key_ids: Vec<String>,
}

/// One copied file, its path relative to the backup directory with `/` between parts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// What a backup did beyond its manifest.
#[derive(Debug)]
pub struct BackupDone {
    pub manifest: Manifest,
    /// Objects deleted while they were being copied (left out; see the module comment).
    pub vanished: u64,
    /// Objects in no encrypted format (stored before encryption at rest; `rotate-keys` seals them).
    pub unsealed: u64,
}

/// Where the embedded setup keeps its database file and objects; refuses any other setup.
struct Embedded {
    database_url: String,
    database: PathBuf,
    objects: PathBuf,
}

fn embedded(settings: &Settings) -> anyhow::Result<Embedded> {
    let url = settings.database_url().expose_secret().to_string();
    if !url.starts_with("sqlite:") {
        bail!("the database is not SQLite. {NOT_EMBEDDED}");
    }
    let objects = match settings.storage_location()? {
        StorageLocation::Local(dir) => dir,
        StorageLocation::S3 { .. } => bail!("objects are stored in S3. {NOT_EMBEDDED}"),
    };
    let options = SqliteConnectOptions::from_str(&url).context("reading the SQLite database URL")?;
    let database = options.get_filename().to_path_buf();
    if database.as_os_str().is_empty() || database == Path::new(":memory:") {
        bail!("the SQLite database is in memory: there is nothing on disk to back up");
    }
    Ok(Embedded { database_url: url, database, objects })
}

/// The loud part: printed after every backup, since the backup is useless without the keyring.
pub fn keyring_warning(settings: &Settings) -> String {
    format!(
        "WARNING: the keyring {} is NOT in this backup, by design. Every photo in the backup is encrypted with \
         it and unreadable without it. Back the keyring up separately (and keep it apart from this backup); a \
         restore refuses to run without the keys this backup names.",
        settings.storage.key_file.display()
    )
}

/// `atelier backup DIR`: into a new or empty `dir`; the server may be running.
pub async fn backup(settings: &Settings, dir: &Path) -> anyhow::Result<BackupDone> {
    let place = embedded(settings)?;
    let keys = Keyring::load(&settings.storage.key_file).with_context(|| {
        format!(
            "the keyring {} cannot be read: without it the backup's photos could never be opened, so no backup \
             was made",
            settings.storage.key_file.display()
        )
    })?;
    if !place.database.is_file() {
        bail!("there is no database at {} to back up", place.database.display());
    }
    let created = claim_empty(dir, "the backup directory")?;
    match write_backup(&place, keys.ids(), dir).await {
        Ok(done) => Ok(done),
        Err(error) => {
            // A half-written backup has no manifest, so restore refuses it anyway; remove it so
            // nobody keeps it by mistake. Only what this run wrote: the directory was empty.
            if let Err(cleanup) = empty_out(dir, created) {
                tracing::warn!(dir = %dir.display(), "removing the incomplete backup: {cleanup}");
            }
            Err(error)
        }
    }
}

async fn write_backup(place: &Embedded, keyring_ids: Vec<String>, dir: &Path) -> anyhow::Result<BackupDone> {
    let snapshot = dir.join(DATABASE_FILE);
    snapshot_database(&place.database_url, &snapshot).await?;
    let rows = row_counts(&snapshot).await?;
    let objects_from = place.objects.clone();
    let objects_to = dir.join(OBJECTS_DIR);
    let (database, copied) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let database = hash_file(&snapshot, DATABASE_FILE)?;
        let copied = copy_objects(&objects_from, &objects_to)?;
        Ok((database, copied))
    })
    .await
    .context("the copy stopped unexpectedly")??;
    let manifest = Manifest {
        format: FORMAT,
        atelier_version: env!("CARGO_PKG_VERSION").into(),
        created_at: crate::platform::db::now(),
        database,
        rows,
        objects: copied.entries,
        keyring_ids,
        required_key_ids: copied.keks.into_iter().collect(),
    };
    write_manifest(dir, &manifest)?;
    Ok(BackupDone { manifest, vanished: copied.vanished, unsealed: copied.unsealed })
}

/// `VACUUM INTO` copies the database as one read transaction sees it: consistent while the
/// server writes, and one file (the write-ahead log folded in).
async fn snapshot_database(url: &str, to: &Path) -> anyhow::Result<()> {
    let options = SqliteConnectOptions::from_str(url)?.create_if_missing(false).busy_timeout(BUSY_TIMEOUT);
    let mut connection = options.connect().await.context("opening the database")?;
    let target = to.to_str().with_context(|| format!("the backup path {} is not UTF-8", to.display()))?;
    sqlx::query("VACUUM INTO ?")
        .bind(target)
        .execute(&mut connection)
        .await
        .context("taking the database snapshot (VACUUM INTO)")?;
    connection.close().await.ok();
    let mut snapshot = SqliteConnectOptions::new().filename(to).read_only(true).connect().await?;
    let check: String = sqlx::query("PRAGMA quick_check").fetch_one(&mut snapshot).await?.try_get(0)?;
    snapshot.close().await.ok();
    if check != "ok" {
        bail!("the database snapshot fails SQLite's check: {check}");
    }
    Ok(())
}

/// Rows of every table Atelier keeps (the tables registry), as the snapshot holds them.
async fn row_counts(database: &Path) -> anyhow::Result<BTreeMap<String, i64>> {
    let mut connection = SqliteConnectOptions::new().filename(database).read_only(true).connect().await?;
    let present: BTreeSet<String> = sqlx::query("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&mut connection)
        .await?
        .iter()
        .filter_map(|row| row.try_get::<String, _>(0).ok())
        .collect();
    let mut rows = BTreeMap::new();
    for table in crate::platform::tables::TABLES.iter().filter(|table| present.contains(table.name)) {
        // The name comes from the registry, never from input.
        let sql = format!("SELECT COUNT(*) FROM \"{}\"", table.name);
        let count: i64 = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_one(&mut connection).await?.try_get(0)?;
        rows.insert(table.name.to_string(), count);
    }
    connection.close().await.ok();
    Ok(rows)
}

#[derive(Default)]
struct Copied {
    entries: Vec<FileEntry>,
    keks: BTreeSet<String>,
    vanished: u64,
    unsealed: u64,
}

fn copy_objects(from: &Path, to: &Path) -> anyhow::Result<Copied> {
    let mut copied = Copied::default();
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    if !from.exists() {
        return Ok(copied);
    }
    for relative in walk(from)? {
        let name = relative_name(&relative)?;
        let path = format!("{OBJECTS_DIR}/{name}");
        match copy_hashed(&from.join(&relative), &to.join(&relative), None) {
            Ok(Some((entry, header))) => {
                match Keyring::kek_of(&header) {
                    Some(kek) => {
                        copied.keks.insert(kek);
                    }
                    None => copied.unsealed += 1,
                }
                copied.entries.push(FileEntry { path, ..entry });
            }
            // Deleted since it was listed: a photo being erased or an expired object.
            Ok(None) => copied.vanished += 1,
            Err(error) => return Err(error.context(format!("copying the object {name}"))),
        }
    }
    Ok(copied)
}

/// Every regular file under `root`, relative to it, sorted. object_store's in-flight uploads
/// (`name#n`, renamed into place when whole) are not objects yet and are skipped.
fn walk(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let entries = match std::fs::read_dir(root.join(&relative)) {
            Ok(entries) => entries,
            // A directory emptied and removed while walking.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => return Err(error).with_context(|| format!("listing {}", root.join(&relative).display())),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let child = relative.join(entry.file_name());
            if kind.is_dir() {
                pending.push(child);
            } else if kind.is_file() && !entry.file_name().to_string_lossy().contains('#') {
                files.push(child);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `a/b/c` for a relative path of plain parts; anything else is refused.
fn relative_name(path: &Path) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => {
                parts.push(part.to_str().with_context(|| format!("the file name {} is not UTF-8", path.display()))?)
            }
            _ => bail!("{} is not a plain relative path", path.display()),
        }
    }
    if parts.is_empty() {
        bail!("an empty path");
    }
    Ok(parts.join("/"))
}

/// A manifest's path as a relative path under the backup directory, refusing anything that
/// could reach outside it (`..`, absolute paths, empty parts).
fn manifest_path(path: &str) -> anyhow::Result<PathBuf> {
    let mut relative = PathBuf::new();
    for part in path.split('/') {
        if part.is_empty() || part == "." || part == ".." || part.contains('\\') || part.contains('\0') {
            bail!("the manifest names the file {path:?}, which is not a plain relative path");
        }
        relative.push(part);
    }
    Ok(relative)
}

/// Copies `from` to a new file `to`, hashing as it goes; `None` when `from` no longer exists.
/// With `expected`, the copy must have that size and hash, or it is removed and refused.
/// Also returns the first bytes, where a sealed object names its KEK.
fn copy_hashed(from: &Path, to: &Path, expected: Option<&FileEntry>) -> anyhow::Result<Option<(FileEntry, Vec<u8>)>> {
    let mut source = match std::fs::File::open(from) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error).with_context(|| format!("opening {}", from.display())),
    };
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut target = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(to)
        .with_context(|| format!("creating {}", to.display()))?;
    let (mut hasher, mut bytes, mut header) = (Sha256::new(), 0u64, Vec::new());
    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        let read = source.read(&mut buffer).with_context(|| format!("reading {}", from.display()))?;
        if read == 0 {
            break;
        }
        let chunk = &buffer[..read];
        if header.len() < HEADER_BYTES {
            header.extend_from_slice(&chunk[..chunk.len().min(HEADER_BYTES - header.len())]);
        }
        hasher.update(chunk);
        bytes += read as u64;
        if let Some(expected) = expected {
            if bytes > expected.bytes {
                break;
            }
        }
        target.write_all(chunk).with_context(|| format!("writing {}", to.display()))?;
    }
    target.sync_all().with_context(|| format!("writing {}", to.display()))?;
    let entry = FileEntry { path: String::new(), bytes, sha256: hex(&hasher.finalize()) };
    if let Some(expected) = expected {
        if entry.bytes != expected.bytes || entry.sha256 != expected.sha256 {
            let _ = std::fs::remove_file(to);
            bail!(
                "{} does not match the manifest ({} bytes, SHA-256 {}; the manifest says {} bytes, {}): the backup \
                 is damaged",
                expected.path,
                entry.bytes,
                entry.sha256,
                expected.bytes,
                expected.sha256
            );
        }
    }
    Ok(Some((entry, header)))
}

fn hash_file(path: &Path, name: &str) -> anyhow::Result<FileEntry> {
    let mut file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let (mut hasher, mut bytes) = (Sha256::new(), 0u64);
    let mut buffer = vec![0u8; COPY_BUFFER];
    loop {
        let read = file.read(&mut buffer).with_context(|| format!("reading {}", path.display()))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        bytes += read as u64;
    }
    Ok(FileEntry { path: name.into(), bytes, sha256: hex(&hasher.finalize()) })
}

/// Written last, atomically: a backup directory without one is incomplete.
fn write_manifest(dir: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let temporary = dir.join(format!("{MANIFEST}.partial"));
    {
        let mut file = std::fs::File::create(&temporary)?;
        serde_json::to_writer_pretty(&mut file, manifest)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, dir.join(MANIFEST))?;
    // The rename itself is durable once the directory is.
    std::fs::File::open(dir).and_then(|d| d.sync_all()).ok();
    Ok(())
}

/// `dir` must be absent or an empty directory; creates it. True when it was absent.
fn claim_empty(dir: &Path, what: &str) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!("{what} {} is not empty; nothing was written", dir.display());
            }
            Ok(false)
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {what} {}", dir.display()))?;
            Ok(true)
        }
        Err(error) => Err(error).with_context(|| format!("reading {what} {}", dir.display())),
    }
}

/// Undoes `claim_empty` after a failure: the directory was empty (or absent) before.
fn empty_out(dir: &Path, created: bool) -> std::io::Result<()> {
    if created {
        return std::fs::remove_dir_all(dir);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(path)?;
        } else {
            std::fs::remove_file(path)?;
        }
    }
    Ok(())
}

/// Reads and checks a backup's manifest (format and paths; the files are checked as they are
/// copied).
pub fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST);
    let file = std::fs::File::open(&path).with_context(|| {
        format!("{} has no {MANIFEST}: it is not a backup, or the backup did not finish", dir.display())
    })?;
    let size = file.metadata()?.len();
    if size > MAX_MANIFEST_BYTES {
        bail!("{} is {size} bytes, more than any manifest; it is not one", path.display());
    }
    let manifest: Manifest = serde_json::from_reader(std::io::BufReader::new(file.take(MAX_MANIFEST_BYTES)))
        .with_context(|| format!("{} is not a backup manifest", path.display()))?;
    if manifest.format != FORMAT {
        bail!(
            "the backup's format is {}, this Atelier reads format {FORMAT} (use the Atelier version that made it, {})",
            manifest.format,
            manifest.atelier_version
        );
    }
    if manifest.database.path != DATABASE_FILE {
        bail!("the manifest names the database {:?}, expected {DATABASE_FILE}", manifest.database.path);
    }
    for entry in &manifest.objects {
        manifest_path(&entry.path)?;
        if !entry.path.starts_with(&format!("{OBJECTS_DIR}/")) {
            bail!("the manifest names the object {:?} outside {OBJECTS_DIR}/", entry.path);
        }
    }
    Ok(manifest)
}

/// `atelier restore DIR`: into a fresh setup only (no database file, empty data and object
/// directories), with a keyring holding every key the backup needs.
pub async fn restore(settings: &Settings, dir: &Path) -> anyhow::Result<Manifest> {
    let place = embedded(settings)?;
    let manifest = read_manifest(dir)?;
    let key_file = &settings.storage.key_file;
    let keys = Keyring::load(key_file).with_context(|| {
        format!(
            "the keyring {} cannot be read: restore the keyring backed up with this data there first (the backup's \
             photos are encrypted with its keys)",
            key_file.display()
        )
    })?;
    let have: BTreeSet<String> = keys.ids().into_iter().collect();
    let missing: Vec<&str> =
        manifest.required_key_ids.iter().filter(|id| !have.contains(*id)).map(String::as_str).collect();
    if !missing.is_empty() {
        bail!(
            "the keyring {} lacks the key(s) {} that this backup's photos are sealed with: restored, they would be \
             unreadable. Put the keyring backed up with this data at that path (or point ATELIER_KEY_FILE at it) \
             and run restore again; nothing was written",
            key_file.display(),
            missing.join(", ")
        );
    }

    // Fresh only: a restore never merges into or overwrites a running setup's data.
    if place.database.exists() {
        bail!(
            "a database already exists at {}; restore only into a fresh setup. Nothing was written",
            place.database.display()
        );
    }
    let data_dir = settings.storage.data_dir.clone();
    let data_created = claim_empty(&data_dir, "the data directory")?;
    let objects = place.objects.clone();
    let objects_outside = !objects.starts_with(&data_dir);
    let objects_created = if objects_outside {
        match claim_empty(&objects, "the objects directory") {
            Ok(created) => created,
            Err(error) => {
                empty_out(&data_dir, data_created).ok();
                return Err(error);
            }
        }
    } else {
        false
    };
    let database = place.database.clone();
    let (source, entries, database_entry) = (dir.to_path_buf(), manifest.objects.clone(), manifest.database.clone());
    let copied = tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        if copy_hashed(&source.join(DATABASE_FILE), &database, Some(&database_entry))?.is_none() {
            bail!("the backup has no {DATABASE_FILE}");
        }
        for entry in &entries {
            let relative = manifest_path(&entry.path)?;
            let inside = relative.strip_prefix(OBJECTS_DIR)?;
            if copy_hashed(&source.join(&relative), &objects.join(inside), Some(entry))?.is_none() {
                bail!("the backup lacks {}, which its manifest lists: the backup is damaged", entry.path);
            }
        }
        Ok(())
    })
    .await
    .context("the copy stopped unexpectedly")
    .and_then(|copied| copied);
    let checked = match copied {
        Ok(()) => row_counts(&place.database).await.and_then(|rows| {
            if rows == manifest.rows {
                Ok(())
            } else {
                bail!("the restored database's row counts differ from the manifest's")
            }
        }),
        Err(error) => Err(error),
    };
    if let Err(error) = checked {
        // Back to the fresh state it started from, so the restore can simply be run again.
        if place.database.exists() && !place.database.starts_with(&data_dir) {
            std::fs::remove_file(&place.database).ok();
        }
        if objects_outside {
            empty_out(&place.objects, objects_created).ok();
        }
        empty_out(&data_dir, data_created).ok();
        return Err(error.context("the restore was undone; the data directory is as it was"));
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths_stay_inside_the_backup() {
        for bad in ["../x", "objects/../../etc/passwd", "/etc/passwd", "objects//a", "objects/./a", ""] {
            assert!(manifest_path(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(manifest_path("objects/a/b").unwrap(), Path::new("objects").join("a").join("b"));
    }

    #[test]
    fn walk_skips_in_flight_uploads() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("o/p")).unwrap();
        std::fs::write(dir.path().join("o/p/photo"), b"x").unwrap();
        std::fs::write(dir.path().join("o/p/photo#1"), b"partial").unwrap();
        let files = walk(dir.path()).unwrap();
        assert_eq!(files, vec![PathBuf::from("o/p/photo")]);
        assert_eq!(relative_name(&files[0]).unwrap(), "o/p/photo");
    }

    #[test]
    fn a_copy_that_differs_from_the_manifest_is_refused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a");
        std::fs::write(&from, b"hello").unwrap();
        let (entry, _) = copy_hashed(&from, &dir.path().join("b"), None).unwrap().unwrap();
        let expected = FileEntry { path: "objects/a".into(), ..entry };
        std::fs::write(&from, b"hellO").unwrap();
        let error = copy_hashed(&from, &dir.path().join("c"), Some(&expected)).unwrap_err();
        assert!(error.to_string().contains("damaged"), "{error}");
        assert!(!dir.path().join("c").exists());
    }
}
