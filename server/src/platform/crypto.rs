//! Encryption at rest and signed links.
//!
//! Every stored object is sealed with its own random 256-bit data key (AES-256-GCM). The data key
//! is wrapped by a key-encryption key (KEK) named by an id; the object's storage key is the
//! associated data of both the wrapped key and every chunk, so swapping two objects' files, or
//! editing a header, fails decryption. The body uses the STREAM construction (aead::stream,
//! 64 KiB chunks, last-chunk flag), so large files are authenticated chunk by chunk and a
//! truncated file is refused too.
//!
//! Layout: `ATL1` | kek id length (u8) | kek id | data-key nonce (12) | wrapped data key (48) |
//! stream nonce (7) | chunks.
//!
//! The keyring is a small file outside the data directory (`keys/keyring` by default), created on
//! first start: `kek <id> <hex>` lines, `active <id>`, and `signing <hex>` for link signatures.
//! Rotation adds a KEK, makes it active, and re-wraps every data key (bodies are untouched).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use aes_gcm::aead::stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use hmac::{Hmac, Mac};
use rand_core::RngCore;
use sha2::Sha256;

const MAGIC: &[u8; 4] = b"ATL1";
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
const WRAPPED_LEN: usize = 32 + TAG;
const STREAM_NONCE: usize = 7;
/// A body chunk as stored: `CHUNK` bytes of plain text and their tag (the last may be shorter).
pub const SEALED_CHUNK: usize = CHUNK + TAG;
/// Plain bytes per body chunk.
pub const PLAIN_CHUNK: usize = CHUNK;

/// Encrypts one object's body chunk by chunk (see `Keyring::sealer`).
pub struct Sealer {
    encryptor: Option<EncryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
}

impl Sealer {
    /// A chunk of exactly `PLAIN_CHUNK` bytes that is not the last.
    pub fn next(&mut self, chunk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let encryptor = self.encryptor.as_mut().ok_or(CryptoError::Format)?;
        encryptor.encrypt_next(Payload { msg: chunk, aad: &self.aad }).map_err(|_| CryptoError::Authentication)
    }

    /// The last chunk (at most `PLAIN_CHUNK` bytes, possibly empty); nothing may follow.
    pub fn last(&mut self, chunk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let encryptor = self.encryptor.take().ok_or(CryptoError::Format)?;
        encryptor.encrypt_last(Payload { msg: chunk, aad: &self.aad }).map_err(|_| CryptoError::Authentication)
    }
}

/// Decrypts one object's body chunk by chunk (see `Keyring::opener`).
pub struct Opener {
    decryptor: Option<DecryptorBE32<Aes256Gcm>>,
    aad: Vec<u8>,
}

impl Opener {
    /// A stored chunk of exactly `SEALED_CHUNK` bytes that is not the last.
    pub fn next(&mut self, chunk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let decryptor = self.decryptor.as_mut().ok_or(CryptoError::Format)?;
        decryptor.decrypt_next(Payload { msg: chunk, aad: &self.aad }).map_err(|_| CryptoError::Authentication)
    }

    /// The last stored chunk; a body cut short fails here (its last chunk is not marked last).
    pub fn last(&mut self, chunk: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let decryptor = self.decryptor.take().ok_or(CryptoError::Format)?;
        decryptor.decrypt_last(Payload { msg: chunk, aad: &self.aad }).map_err(|_| CryptoError::Authentication)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the stored object is not in Atelier's encrypted format")]
    Format,
    #[error("the stored object was encrypted with key {0:?}, which is not in the keyring")]
    UnknownKey(String),
    #[error("the stored object failed authentication (changed, truncated or not its own)")]
    Authentication,
    #[error("keyring {path}: {message}")]
    Keyring { path: PathBuf, message: String },
}

/// One keyring shared by storage and links; rotation swaps it under the lock.
#[derive(Clone, Debug)]
pub struct SharedKeyring(std::sync::Arc<std::sync::RwLock<Keyring>>);

impl SharedKeyring {
    pub fn new(keys: Keyring) -> Self {
        Self(std::sync::Arc::new(std::sync::RwLock::new(keys)))
    }

    /// A copy of the keys now in force (small: a few 32-byte keys).
    pub fn current(&self) -> Keyring {
        // A poisoned lock only means a panic elsewhere while holding it; the keys are still whole.
        self.0.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Changes the keys and saves the file before anyone else sees the change.
    pub fn update<T>(&self, change: impl FnOnce(&mut Keyring) -> T) -> Result<T, CryptoError> {
        let mut keys = self.0.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = keys.clone();
        let out = change(&mut next);
        next.save()?;
        *keys = next;
        Ok(out)
    }
}

#[derive(Clone)]
pub struct Keyring {
    keks: BTreeMap<String, [u8; 32]>,
    active: String,
    signing: [u8; 32],
    path: PathBuf,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("Keyring")
            .field("path", &self.path)
            .field("active", &self.active)
            .field("keys", &self.keks.len())
            .finish()
    }
}

fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    OsRng.fill_bytes(&mut key);
    key
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

/// HMAC-SHA256 over `"<timestamp>.<body>"`: the scheme Stripe signs its webhooks with, and the
/// one Atelier signs its own completion webhooks with, so a receiver of either checks both alike.
/// (HMAC takes a key of any length: `None` cannot happen, and it verifies nothing.)
pub fn timestamped_mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Option<Hmac<Sha256>> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).ok()?;
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    Some(mac)
}

/// SHA-256 of `text`, in hex: what is stored in place of a secret that only needs matching.
pub fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    hex(&Sha256::digest(text.as_bytes()))
}

/// 64 hex digits as the 32 bytes they spell (a key, or an HMAC-SHA256); anything else is `None`.
pub fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A keyring others on the machine can read is no secret: refuse it rather than trust it.
#[cfg(unix)]
fn refuse_shared(path: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).map_err(|e| e.to_string())?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "the file is readable or writable by others (mode {:o}); make it the owner's alone: chmod 600",
            mode & 0o777
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn refuse_shared(_path: &Path) -> Result<(), String> {
    Ok(())
}

fn new_kek_id() -> String {
    format!("kek-{}", uuid::Uuid::now_v7().simple())
}

impl Keyring {
    /// Reads the keyring at `path`, or creates one with a fresh KEK and signing key.
    pub fn load_or_create(path: &Path) -> Result<Self, CryptoError> {
        if path.exists() {
            return Self::load(path);
        }
        let id = new_kek_id();
        let keyring = Self {
            keks: BTreeMap::from([(id.clone(), random_key())]),
            active: id,
            signing: random_key(),
            path: path.into(),
        };
        keyring.save()?;
        tracing::info!(path = %path.display(), "created a new keyring; keep it safe and apart from the data");
        Ok(keyring)
    }

    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let bad = |message: String| CryptoError::Keyring { path: path.into(), message };
        refuse_shared(path).map_err(bad)?;
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let (mut keks, mut active, mut signing) = (BTreeMap::new(), None, None);
        for (number, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                [] => {}
                [first, ..] if first.starts_with('#') => {}
                ["kek", id, key] => {
                    keks.insert(
                        id.to_string(),
                        unhex(key).ok_or_else(|| bad(format!("line {number}: the key is not 64 hex digits")))?,
                    );
                }
                ["active", id] => active = Some(id.to_string()),
                ["signing", key] => {
                    signing =
                        Some(unhex(key).ok_or_else(|| bad(format!("line {number}: the key is not 64 hex digits")))?)
                }
                _ => return Err(bad(format!("line {number} is not understood"))),
            }
        }
        let active = active.ok_or_else(|| bad("no `active` line".into()))?;
        if !keks.contains_key(&active) {
            return Err(bad(format!("the active key {active} is not in the file")));
        }
        let signing = signing.ok_or_else(|| bad("no `signing` line".into()))?;
        Ok(Self { keks, active, signing, path: path.into() })
    }

    /// Writes the keyring atomically, readable by its owner only.
    pub fn save(&self) -> Result<(), CryptoError> {
        let bad = |e: std::io::Error| CryptoError::Keyring { path: self.path.clone(), message: e.to_string() };
        let mut text = String::from(
            "# Atelier keyring: key-encryption keys for stored objects. Back it up; never store it with the data.\n",
        );
        for (id, key) in &self.keks {
            let _ = writeln!(text, "kek {id} {}", hex(key));
        }
        let _ = writeln!(text, "active {}\nsigning {}", self.active, hex(&self.signing));
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(bad)?;
        }
        let temporary = self.path.with_extension("tmp");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temporary).map_err(bad)?;
            file.write_all(text.as_bytes()).map_err(bad)?;
            file.sync_all().map_err(bad)?;
        }
        std::fs::rename(&temporary, &self.path).map_err(bad)
    }

    pub fn active_id(&self) -> &str {
        &self.active
    }

    /// Adds a new KEK and makes it the active one, and draws a new link-signing key (every link
    /// signed before dies with the old one); returns the KEK's id. Call `save` and re-wrap.
    pub fn add_active(&mut self) -> String {
        let id = new_kek_id();
        self.keks.insert(id.clone(), random_key());
        self.active = id.clone();
        self.signing = random_key();
        id
    }

    /// Removes a KEK that no object uses any more.
    pub fn retire(&mut self, id: &str) -> bool {
        id != self.active && self.keks.remove(id).is_some()
    }

    pub fn ids(&self) -> Vec<String> {
        self.keks.keys().cloned().collect()
    }

    fn kek(&self, id: &str) -> Result<Aes256Gcm, CryptoError> {
        let key = self.keks.get(id).ok_or_else(|| CryptoError::UnknownKey(id.into()))?;
        Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))
    }

    /// Associated data of a wrapped data key: the object and the KEK id.
    fn wrap_aad(object: &str, kek_id: &str) -> Vec<u8> {
        format!("atelier-dek\0{object}\0{kek_id}").into_bytes()
    }

    fn wrap(&self, object: &str, data_key: &[u8; 32]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let wrapped = self
            .kek(&self.active)?
            .encrypt(&nonce, Payload { msg: data_key, aad: &Self::wrap_aad(object, &self.active) })
            .map_err(|_| CryptoError::Authentication)?;
        let mut header = Vec::with_capacity(5 + self.active.len() + 12 + WRAPPED_LEN);
        header.extend_from_slice(MAGIC);
        header.push(u8::try_from(self.active.len()).map_err(|_| CryptoError::Format)?);
        header.extend_from_slice(self.active.as_bytes());
        header.extend_from_slice(&nonce);
        header.extend_from_slice(&wrapped);
        Ok(header)
    }

    /// Parses the header; returns the data key and where the stream part starts.
    fn unwrap(&self, object: &str, sealed: &[u8]) -> Result<([u8; 32], usize), CryptoError> {
        let rest = sealed.strip_prefix(MAGIC).ok_or(CryptoError::Format)?;
        let (&id_len, rest) = rest.split_first().ok_or(CryptoError::Format)?;
        let id_len = usize::from(id_len);
        if rest.len() < id_len + 12 + WRAPPED_LEN {
            return Err(CryptoError::Format);
        }
        let id = std::str::from_utf8(&rest[..id_len]).map_err(|_| CryptoError::Format)?;
        let nonce = Nonce::from_slice(&rest[id_len..id_len + 12]);
        let wrapped = &rest[id_len + 12..id_len + 12 + WRAPPED_LEN];
        let key = self
            .kek(id)?
            .decrypt(nonce, Payload { msg: wrapped, aad: &Self::wrap_aad(object, id) })
            .map_err(|_| CryptoError::Authentication)?;
        let key: [u8; 32] = key.try_into().map_err(|_| CryptoError::Format)?;
        Ok((key, MAGIC.len() + 1 + id_len + 12 + WRAPPED_LEN))
    }

    /// The id of the KEK an object's data key is wrapped with.
    pub fn kek_of(sealed: &[u8]) -> Option<String> {
        let rest = sealed.strip_prefix(MAGIC)?;
        let (&len, rest) = rest.split_first()?;
        std::str::from_utf8(rest.get(..usize::from(len))?).ok().map(str::to_string)
    }

    /// Encrypts `plain` as the object named `object`.
    pub fn seal(&self, object: &str, plain: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (mut sealer, mut out) = self.sealer(object)?;
        out.reserve(plain.len() + (plain.len() / CHUNK + 1) * TAG);
        let mut chunks = plain.chunks(CHUNK).peekable();
        loop {
            let chunk = chunks.next().unwrap_or_default();
            if chunks.peek().is_none() {
                out.extend_from_slice(&sealer.last(chunk)?);
                return Ok(out);
            }
            out.extend_from_slice(&sealer.next(chunk)?);
        }
    }

    /// For objects too large to hold twice in memory: the header to write first, and a sealer
    /// that encrypts the body `CHUNK` bytes at a time.
    pub fn sealer(&self, object: &str) -> Result<(Sealer, Vec<u8>), CryptoError> {
        let data_key = random_key();
        let mut header = self.wrap(object, &data_key)?;
        let mut stream_nonce = [0u8; STREAM_NONCE];
        OsRng.fill_bytes(&mut stream_nonce);
        header.extend_from_slice(&stream_nonce);
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&data_key));
        let encryptor = EncryptorBE32::from_aead(cipher, stream_nonce.as_ref().into());
        Ok((Sealer { encryptor: Some(encryptor), aad: object.as_bytes().to_vec() }, header))
    }

    /// Decrypts what `seal` made for the same `object`; any change, swap or truncation fails.
    pub fn open(&self, object: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (header, body) = sealed.split_at(Self::header_len(sealed).ok_or(CryptoError::Format)?.min(sealed.len()));
        let mut opener = self.opener(object, header)?;
        let mut out = Vec::with_capacity(body.len());
        let mut chunks = body.chunks(SEALED_CHUNK).peekable();
        while let Some(chunk) = chunks.next() {
            if chunks.peek().is_none() {
                out.extend_from_slice(&opener.last(chunk)?);
                return Ok(out);
            }
            out.extend_from_slice(&opener.next(chunk)?);
        }
        Err(CryptoError::Format)
    }

    /// How long an object's header is (through the stream nonce), once its first bytes are known.
    pub fn header_len(sealed: &[u8]) -> Option<usize> {
        let id_len = usize::from(*sealed.strip_prefix(MAGIC)?.first()?);
        Some(MAGIC.len() + 1 + id_len + 12 + WRAPPED_LEN + STREAM_NONCE)
    }

    /// A decryptor for the body that follows `header` (`header_len` bytes).
    pub fn opener(&self, object: &str, header: &[u8]) -> Result<Opener, CryptoError> {
        let (data_key, start) = self.unwrap(object, header)?;
        let stream_nonce = header.get(start..start + STREAM_NONCE).ok_or(CryptoError::Format)?;
        let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&data_key));
        let decryptor = DecryptorBE32::from_aead(cipher, stream_nonce.into());
        Ok(Opener { decryptor: Some(decryptor), aad: object.as_bytes().to_vec() })
    }

    /// The same object with its data key wrapped by the active KEK; the body is unchanged.
    pub fn rewrap(&self, object: &str, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (data_key, start) = self.unwrap(object, sealed)?;
        let mut out = self.wrap(object, &data_key)?;
        out.extend_from_slice(&sealed[start..]);
        Ok(out)
    }

    /// HMAC-SHA256 of `message` under the signing key (HMAC accepts a key of any length, so
    /// the `Err` arm is unreachable; it yields no MAC, which verifies nothing).
    fn mac(&self, message: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.signing).ok()?;
        mac.update(message.as_bytes());
        Some(mac)
    }

    /// HMAC-SHA256 with the signing key, hex encoded.
    pub fn sign(&self, message: &str) -> String {
        self.mac(message).map(|mac| hex(&mac.finalize().into_bytes())).unwrap_or_default()
    }

    /// Constant-time check of a `sign` result.
    pub fn verify(&self, message: &str, signature: &str) -> bool {
        match (unhex(signature), self.mac(message)) {
            (Some(bytes), Some(mac)) => mac.verify_slice(&bytes).is_ok(),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(dir: &tempfile::TempDir) -> Keyring {
        Keyring::load_or_create(&dir.path().join("keys/keyring")).unwrap()
    }

    #[test]
    fn sealed_objects_open_and_hide_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let keys = keyring(&dir);
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
            let plain: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let sealed = keys.seal("owners/a/photos/b/original", &plain).unwrap();
            assert!(size < 64 || !sealed.windows(64).any(|w| w == &plain[..64]), "plaintext visible at size {size}");
            assert_eq!(keys.open("owners/a/photos/b/original", &sealed).unwrap(), plain, "size {size}");
        }
    }

    #[test]
    fn a_flipped_byte_anywhere_fails() {
        let dir = tempfile::tempdir().unwrap();
        let keys = keyring(&dir);
        let plain = vec![7u8; CHUNK * 2 + 100];
        let sealed = keys.seal("k", &plain).unwrap();
        for position in [0, 5, 20, 60, 80, 100, CHUNK, sealed.len() - 1] {
            let mut broken = sealed.clone();
            broken[position] ^= 0x01;
            assert!(keys.open("k", &broken).is_err(), "a flip at {position} went unnoticed");
        }
        let mut truncated = sealed.clone();
        truncated.truncate(sealed.len() - CHUNK / 2);
        assert!(keys.open("k", &truncated).is_err(), "truncation went unnoticed");
        // Dropping the last chunk entirely must fail too (last-chunk flag).
        let header = sealed.len() - (2 * (CHUNK + TAG) + 100 + TAG);
        assert!(keys.open("k", &sealed[..header + 2 * (CHUNK + TAG)]).is_err());
    }

    #[test]
    fn swapped_objects_fail() {
        let dir = tempfile::tempdir().unwrap();
        let keys = keyring(&dir);
        let a = keys.seal("owners/x/photos/1/original", b"first photo").unwrap();
        let b = keys.seal("owners/x/photos/2/original", b"second photo").unwrap();
        assert!(matches!(keys.open("owners/x/photos/1/original", &b), Err(CryptoError::Authentication)));
        assert!(matches!(keys.open("owners/x/photos/2/original", &a), Err(CryptoError::Authentication)));
    }

    #[test]
    fn rotation_rewraps_and_the_old_key_can_go() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = keyring(&dir);
        let old = keys.active_id().to_string();
        let sealed = keys.seal("obj", b"kept through rotation").unwrap();
        let new = keys.add_active();
        let rewrapped = keys.rewrap("obj", &sealed).unwrap();
        assert_eq!(Keyring::kek_of(&rewrapped).as_deref(), Some(new.as_str()));
        assert!(keys.retire(&old));
        keys.save().unwrap();
        let reloaded = Keyring::load(&dir.path().join("keys/keyring")).unwrap();
        assert_eq!(reloaded.open("obj", &rewrapped).unwrap(), b"kept through rotation");
        assert!(matches!(reloaded.open("obj", &sealed), Err(CryptoError::UnknownKey(id)) if id == old));
    }

    #[test]
    fn keyrings_persist_and_bad_files_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let keys = keyring(&dir);
        let sealed = keys.seal("obj", b"x").unwrap();
        assert_eq!(keyring(&dir).open("obj", &sealed).unwrap(), b"x");
        let path = dir.path().join("bad");
        std::fs::write(&path, "kek a 12\nactive a\n").unwrap();
        set_mode(&path, 0o600);
        let error = Keyring::load(&path).unwrap_err().to_string();
        assert!(error.contains("64 hex digits"), "{error}");
        assert!(matches!(keys.open("obj", b"plain old png"), Err(CryptoError::Format)));
    }

    fn set_mode(path: &Path, mode: u32) {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn the_key_file_is_private_and_a_shared_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/keyring");
        Keyring::load_or_create(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        for shared in [0o640, 0o604, 0o620] {
            set_mode(&path, shared);
            let error = Keyring::load(&path).unwrap_err().to_string();
            assert!(error.contains("chmod 600"), "{shared:o}: {error}");
        }
        set_mode(&path, 0o600);
        assert!(Keyring::load(&path).is_ok());
    }

    #[test]
    fn rotation_kills_links_signed_before() {
        let dir = tempfile::tempdir().unwrap();
        let mut keys = keyring(&dir);
        let signature = keys.sign("/media/x 100");
        keys.add_active();
        keys.save().unwrap();
        let reloaded = Keyring::load(&dir.path().join("keys/keyring")).unwrap();
        assert!(!reloaded.verify("/media/x 100", &signature));
        assert!(reloaded.verify("/media/x 100", &reloaded.sign("/media/x 100")));
    }

    #[test]
    fn signatures_verify_only_for_their_message() {
        let dir = tempfile::tempdir().unwrap();
        let keys = keyring(&dir);
        let signature = keys.sign("GET /media/x 100");
        assert!(keys.verify("GET /media/x 100", &signature));
        assert!(!keys.verify("GET /media/x 101", &signature));
        assert!(!keys.verify("GET /media/x 100", "00"));
        assert!(!keys.verify("GET /media/x 100", &"g".repeat(64)));
    }
}
