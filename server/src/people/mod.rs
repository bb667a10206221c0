//! People: faces found in a workspace's photos and grouped by person (`ai::people`), kept only
//! while the account's owner has switched People on with explicit consent. `PeopleStore` keeps
//! `app::people::PeopleService`.
//!
//! Faces are looked for in the durable job queue (`PEOPLE_JOB`, run by `run::job`): one job goes
//! through every photo of the workspace not looked at yet, so switching on queues one for all
//! the photos, and storing a photo (`photo_stored`, called by `PhotoStore::store_metered`) queues
//! one unless one is already waiting. Nothing here is sent to any provider.

pub mod repo;
pub mod routes;
pub mod run;

use std::collections::HashMap;
use std::sync::Arc;

use app::error::AppError;
use app::ids::{OwnerId, PersonId, PhotoId, SignedIn};
use app::people::{PeopleOverview, PeopleService, PersonPhotos, PersonSummary, CONSENT_VERSION, MAX_NAME_CHARS};
use app::photos::PhotoSummary;
use async_trait::async_trait;

use crate::ai_tools::AiStore;
use crate::data::audit::Event;
use crate::platform::db::Db;
use crate::platform::links::Links;
use repo::PersonRow;

/// The job that looks for faces, as the worker dispatches it.
pub const PEOPLE_JOB: &str = "people";

/// A photo's faces are tried this many times before the job gives up (the next photo stored
/// queues it again).
const MAX_ATTEMPTS: i64 = 3;

pub struct PeopleStore {
    pub ai: Arc<AiStore>,
}

/// Queues the job that looks for faces in the workspace's photos not looked at yet, unless People
/// is off or such a job is already waiting. A People job is never refused for the workspace's job
/// cap: it is the server's own work, one at a time.
pub async fn queue_scan(db: &Db, owner: OwnerId) -> Result<bool, sqlx::Error> {
    if db.people_enabled_at(owner).await?.is_none() {
        return Ok(false);
    }
    db.queue_workspace_job(owner, PEOPLE_JOB, MAX_ATTEMPTS).await
}

/// Called after a photo is stored: queues the face scan when People is on for its workspace. A
/// failure is logged, never the upload's: the next photo stored, or switching on again, catches up.
pub async fn photo_stored(db: &Db, owner: OwnerId) {
    if let Err(error) = queue_scan(db, owner).await {
        tracing::warn!(%error, "could not queue looking for faces in a new photo");
    }
}

/// The path of a face's thumbnail, which `Links` signs.
pub fn face_path(face: &str) -> String {
    format!("/media/faces/{face}/thumbnail")
}

fn summary(links: &Links, row: PersonRow) -> PersonSummary {
    PersonSummary {
        id: row.id,
        name: row.name,
        faces: u32::try_from(row.faces).unwrap_or(u32::MAX),
        photos: u32::try_from(row.photos).unwrap_or(u32::MAX),
        face_url: links.sign(&face_path(&row.face)),
    }
}

impl PeopleStore {
    fn db(&self) -> &Db {
        &self.ai.db
    }

    fn available(&self) -> bool {
        self.ai
            .engine
            .as_ref()
            .is_ok_and(|engine| engine.is_installed(ai::people::FACERES) && engine.is_installed(ai::describe::FACES))
    }

    /// The summaries of `ids` among the workspace's photos, newest first, with fresh links.
    async fn photos_by_id(&self, owner: OwnerId, ids: Vec<PhotoId>) -> Result<Vec<PhotoSummary>, AppError> {
        let wanted: HashMap<PhotoId, ()> = ids.into_iter().map(|id| (id, ())).collect();
        let photos = self.db().list_photos(owner).await?;
        Ok(photos
            .into_iter()
            .filter(|photo| wanted.contains_key(&photo.id))
            .map(|photo| self.ai.photos.with_links(photo))
            .collect())
    }

    async fn summary_of(&self, owner: OwnerId, id: PersonId) -> Result<PersonSummary, AppError> {
        let row = self.db().person(owner, id).await?.ok_or(AppError::NotFound)?;
        Ok(summary(&self.ai.photos.links, row))
    }
}

#[async_trait]
impl PeopleService for PeopleStore {
    async fn overview(&self, me: Option<SignedIn>, visitor: Option<OwnerId>) -> Result<PeopleOverview, AppError> {
        let available = self.available();
        let Some(me) = me else {
            return Ok(PeopleOverview { available, ..PeopleOverview::default() });
        };
        let owner = visitor.unwrap_or(me.owner);
        let enabled_at = self.db().people_enabled_at(owner).await?;
        let (people, pending) = match enabled_at {
            Some(_) => {
                let rows = self.db().people_of(owner).await?;
                let pending = self.db().unscanned_photos(owner).await?;
                (
                    rows.into_iter().map(|row| summary(&self.ai.photos.links, row)).collect(),
                    u32::try_from(pending).unwrap_or(u32::MAX),
                )
            }
            None => (Vec::new(), 0),
        };
        Ok(PeopleOverview { signed_in: true, enabled: enabled_at.is_some(), enabled_at, available, pending, people })
    }

    async fn enable(&self, me: SignedIn, agreed: bool, text_version: u32) -> Result<PeopleOverview, AppError> {
        if !agreed {
            return Err(AppError::BadRequest(
                "To switch People on, tick the box to say you agree to your faces being found and grouped.".into(),
            ));
        }
        if text_version != CONSENT_VERSION {
            return Err(AppError::BadRequest(
                "The consent text has changed since the page was loaded. Reload the page and read it again.".into(),
            ));
        }
        if !self.available() {
            return Err(AppError::BadRequest(
                "This server does not have the face models installed; an administrator can install them with scripts/install-models.".into(),
            ));
        }
        self.db().enable_people(me.account, text_version).await?;
        let detail = format!("Switched People on, agreeing to its consent text (version {text_version}).");
        self.db().audit_or_log(Some(me.account), Some(me.account), Event::ConsentChanged, &detail).await;
        queue_scan(self.db(), me.owner).await?;
        self.ai.wake.notify_one();
        self.overview(Some(me), Some(me.owner)).await
    }

    async fn disable(&self, me: SignedIn) -> Result<PeopleOverview, AppError> {
        self.db().disable_people(me.account, me.owner, CONSENT_VERSION).await?;
        let detail = "Switched People off: every face and person was deleted.";
        self.db().audit_or_log(Some(me.account), Some(me.account), Event::ConsentChanged, detail).await;
        tracing::info!("People was switched off and its faces deleted");
        self.overview(Some(me), Some(me.owner)).await
    }

    async fn person(&self, owner: OwnerId, id: PersonId) -> Result<PersonPhotos, AppError> {
        let person = self.summary_of(owner, id).await?;
        let ids = self.db().person_photo_ids(owner, id).await?;
        Ok(PersonPhotos { person, photos: self.photos_by_id(owner, ids).await? })
    }

    async fn rename(&self, owner: OwnerId, id: PersonId, name: String) -> Result<PersonSummary, AppError> {
        let name = name.trim();
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(AppError::BadRequest(format!("A name can have at most {MAX_NAME_CHARS} characters.")));
        }
        if name.chars().any(char::is_control) {
            return Err(AppError::BadRequest("A name cannot contain control characters.".into()));
        }
        let name = (!name.is_empty()).then_some(name);
        if !self.db().rename_person(owner, id, name).await? {
            return Err(AppError::NotFound);
        }
        self.summary_of(owner, id).await
    }

    async fn merge(&self, owner: OwnerId, into: PersonId, from: PersonId) -> Result<PersonSummary, AppError> {
        if into == from {
            return Err(AppError::BadRequest("Pick two different people to merge.".into()));
        }
        if !self.db().merge_people(owner, into, from).await? {
            return Err(AppError::NotFound);
        }
        self.summary_of(owner, into).await
    }

    async fn photos_of(&self, owner: OwnerId, name: String) -> Result<Vec<PhotoSummary>, AppError> {
        let name: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
        if name.is_empty() {
            return Ok(Vec::new());
        }
        let ids = self.db().photo_ids_of_name(owner, &name).await?;
        self.photos_by_id(owner, ids).await
    }
}
