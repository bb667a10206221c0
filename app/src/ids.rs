//! Identifiers of what the server keeps, parsed at the boundary so a malformed id never reaches a
//! query; and the states every queued job goes through.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

macro_rules! id_type {
    ($($(#[$doc:meta])* $name:ident),+) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.as_hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map($name)
            }
        }
    )+};
}

id_type!(
    /// A workspace that owns photos: a guest's, tied to a browser session, or an account's.
    OwnerId,
    /// A signed-up person.
    AccountId,
    /// An uploaded original.
    PhotoId,
    /// A saved, edited result of a photo.
    VersionId,
    /// One run of an AI tool.
    JobId,
    /// A person's saved pipeline of steps.
    PipelineId,
    /// One pipeline run over many photos: a job per photo.
    BatchId,
    /// One run of image generation: a prompt, its settings and the images it made.
    GenerationId,
    /// A person's saved prompt template.
    TemplateId,
    /// A group of faces taken for one person (People).
    PersonId
);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Done,
    Failed,
    Cancelled,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [JobState::Queued, JobState::Running, JobState::Done, JobState::Failed, JobState::Cancelled]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    pub fn is_finished(self) -> bool {
        matches!(self, JobState::Done | JobState::Failed | JobState::Cancelled)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Admin,
}

/// A signed-in person, as the server-function plumbing resolved them from the session (never
/// from a request's parameters). Services take this, or `OwnerId`, or `Admin`: never a session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedIn {
    pub account: AccountId,
    /// The account's workspace.
    pub owner: OwnerId,
    pub role: Role,
}

impl SignedIn {
    /// The one admin check: anyone but an administrator gets `NotFound`, as if the page did not
    /// exist.
    pub fn admin(self) -> Result<Admin, AppError> {
        match self.role {
            Role::Admin => Ok(Admin(self.account)),
            Role::User => Err(AppError::NotFound),
        }
    }
}

/// A signed-in administrator; made only by [`SignedIn::admin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Admin(AccountId);

impl Admin {
    pub fn account(self) -> AccountId {
        self.0
    }
}
