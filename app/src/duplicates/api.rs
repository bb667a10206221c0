//! Server functions for near-duplicates.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::duplicates::Duplicates;
#[cfg(feature = "ssr")]
use crate::server_fn::{owner, run, service, visitor};

use crate::duplicates::DuplicateReport;
use crate::error::AppError;
use crate::ids::PhotoId;

/// The most photos one keep may delete (a workspace holds at most a few thousand).
pub const MAX_OTHERS: usize = 5_000;

/// The visitor's groups of copies and bursts (none before they have a workspace).
#[server(endpoint = "duplicates/list")]
pub async fn list_duplicates() -> Result<DuplicateReport, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Duplicates>()?.groups(owner).await,
            None => Ok(DuplicateReport::default()),
        }
    })
    .await
}

/// Keeps `keep` and deletes `others` (comma-separated photo ids, as the page listed them) that are
/// still in its group; answers how many were deleted.
#[server(endpoint = "duplicates/keep")]
pub async fn keep_photo(keep: PhotoId, others: String) -> Result<u32, AppError> {
    run(async {
        let others = others
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .take(MAX_OTHERS + 1)
            .map(|id| id.parse::<PhotoId>().map_err(|_| AppError::BadRequest("Not a photo id.".into())))
            .collect::<Result<Vec<_>, _>>()?;
        if others.len() > MAX_OTHERS {
            return Err(AppError::BadRequest(format!("At most {MAX_OTHERS} photos at once.")));
        }
        service::<Duplicates>()?.keep(owner().await?, keep, others).await
    })
    .await
}
