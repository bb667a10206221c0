//! The plumbing every feature uses and none owns: the database pool, encrypted object storage,
//! keys, signed links, image decoding, sessions, CSRF, errors, deadlines and shared HTTP pieces.

pub mod archive;
pub mod bmff;
pub mod crypto;
pub mod csrf;
pub mod db;
pub mod deadline;
pub mod error;
pub mod heif;
pub mod http;
pub mod images;
pub mod lease;
pub mod links;
pub mod metrics;
pub mod progress;
pub mod rate;
pub mod sessions;
pub mod storage;
pub mod tables;
pub mod turbo;
