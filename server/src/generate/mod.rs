//! Image generation (issue 18): the `GenerationService` the studio calls. A run is a row in
//! `generations` (the prompt history) and one job on the durable queue with the same id (tool
//! `generate`), so a slow service never holds a request, a restart resumes, and the studio
//! follows its progress. `run::job` asks the configured service for one image at a time and
//! keeps each as a photo of the workspace: moderated, quota-checked and deleted like an upload
//! unless the person saves it to the gallery.

pub mod providers;
pub mod repo;
pub mod run;

use std::collections::HashMap;
use std::sync::Arc;

use app::error::AppError;
use app::generate::{
    curated_templates, GenerateRequest, GeneratedImage, Generation, GenerationService, PromptTemplate, Studio,
};
use app::ids::{GenerationId, JobId, OwnerId, PhotoId, TemplateId};
use async_trait::async_trait;
use uuid::Uuid;

use crate::ai_tools::{queue, AiStore};
use crate::platform::error::OrInternal;

/// The `tool` of a generation's job.
pub const GENERATE: &str = "generate";

#[derive(Clone)]
pub struct GenerationStore {
    pub ai: Arc<AiStore>,
}

impl GenerationStore {
    /// Runs as the studio shows them, with the images each has kept and fresh signed links.
    async fn views(&self, owner: OwnerId, rows: Vec<repo::GenerationRow>) -> Result<Vec<Generation>, AppError> {
        let ids: Vec<GenerationId> = rows.iter().map(|r| r.id).collect();
        let mut images: HashMap<GenerationId, Vec<GeneratedImage>> = HashMap::new();
        for (run, photo, seed, saved) in self.ai.db.generated_photos(owner, &ids).await? {
            let photo = self.ai.photos.with_links(photo);
            images.entry(run).or_default().push(GeneratedImage { photo, seed, saved });
        }
        Ok(rows
            .into_iter()
            .map(|row| Generation {
                id: row.id,
                request: row.request,
                model: row.model,
                seed: row.seed,
                width: row.width,
                height: row.height,
                state: row.state,
                progress: row.progress.clamp(0.0, 1.0),
                error: row.error,
                created_at: row.created_at,
                images: images.remove(&row.id).unwrap_or_default(),
            })
            .collect())
    }

    /// Checks a request against the configured service before anything is queued.
    async fn resolve(
        &self,
        owner: OwnerId,
        request: &GenerateRequest,
    ) -> Result<(Arc<providers::Provider>, Option<String>), AppError> {
        request.check().map_err(AppError::BadRequest)?;
        let providers = &self.ai.generation;
        let provider = providers.get(&request.provider).ok_or_else(|| {
            AppError::BadRequest(match providers.list.is_empty() {
                true => "No image service is configured on this server.".into(),
                false => format!("There is no image service called “{}”.", request.provider),
            })
        })?;
        let (prompt, negative) = request.styled();
        providers.allows(&format!("{prompt}\n{negative}")).map_err(AppError::BadRequest)?;
        let model = match &request.model {
            Some(model) if !provider.models.iter().any(|m| m == model) => {
                return Err(AppError::BadRequest(format!("{} offers no model “{model}”.", provider.name)));
            }
            Some(model) => Some(model.clone()),
            None => provider.models.first().cloned(),
        };
        let features = provider.features(model.as_deref());
        let unsupported = [
            (request.steps.is_some() && !features.steps, "steps"),
            (request.guidance.is_some() && !features.guidance, "guidance"),
            (!request.negative_prompt.trim().is_empty() && !features.negative_prompt, "a negative prompt"),
            (request.reference.is_some() && !features.reference, "a reference image"),
        ];
        if let Some((_, what)) = unsupported.iter().find(|(asked, _)| *asked) {
            return Err(AppError::BadRequest(format!("{} does not take {what}.", provider.name)));
        }
        if let Some(reference) = &request.reference {
            crate::ai_tools::tools::check_other_photo(&self.ai, owner, reference.photo, "reference photo").await?;
        }
        Ok((provider, model))
    }
}

#[async_trait]
impl GenerationService for GenerationStore {
    async fn studio(&self, owner: Option<OwnerId>) -> Result<Studio, AppError> {
        let mut templates = curated_templates();
        if let Some(owner) = owner {
            templates.extend(self.ai.db.templates(owner).await?);
        }
        Ok(Studio { providers: self.ai.generation.list.iter().map(|p| p.info()).collect(), templates })
    }

    async fn start(&self, owner: OwnerId, mut request: GenerateRequest) -> Result<Generation, AppError> {
        let (provider, model) = self.resolve(owner, &request).await?;
        self.ai.photos.ensure_room(owner).await?;
        request.prompt = request.prompt.trim().to_string();
        request.negative_prompt = request.negative_prompt.trim().to_string();
        // A seed is always chosen here where the service takes one, so every run can be repeated.
        let seed = provider.features(model.as_deref()).seed.then(|| request.seed.unwrap_or_else(rand_seed));
        request.seed = seed;
        request.model = model.clone();
        let id = GenerationId(Uuid::new_v4());
        let size = provider.size(request.aspect, model.as_deref());
        let db = &self.ai.db;
        db.insert_generation(&repo::NewGeneration {
            id,
            owner,
            request: &request,
            model: model.as_deref(),
            seed,
            size,
        })
        .await?;
        let params = serde_json::to_string(&request).or_internal("serialising a generation")?;
        let job = queue::NewJob {
            id: JobId(id.0),
            owner,
            // A run has no photo of its own; the queue's column holds the run's id.
            photo: PhotoId(id.0),
            tool: GENERATE,
            params: &params,
            mask_key: None,
            max_attempts: self.ai.settings.max_attempts,
        };
        let price =
            i64::try_from(provider.credits_per_image.saturating_mul(u64::from(request.count))).unwrap_or(i64::MAX);
        let queued = crate::billing::enqueue(&self.ai, &job, price).await;
        if !matches!(queued, Ok(true)) {
            // Nothing was queued: the history must not show a run that never was.
            db.delete_generations(owner, Some(id)).await?;
        }
        if !queued? {
            return Err(AppError::TooManyRequests {
                message: format!(
                    "You have {} jobs queued or running. Wait for one to finish, or cancel one.",
                    self.ai.settings.max_active_per_owner
                ),
                retry_after_secs: 10,
            });
        }
        self.ai.wake.notify_one();
        self.generation(owner, id).await
    }

    async fn history(&self, owner: OwnerId, search: String) -> Result<Vec<Generation>, AppError> {
        let search: String = search.chars().take(200).collect();
        let rows = self.ai.db.generations(owner, &search).await?;
        self.views(owner, rows).await
    }

    async fn generation(&self, owner: OwnerId, id: GenerationId) -> Result<Generation, AppError> {
        let row = self.ai.db.generation(owner, id).await?.ok_or(AppError::NotFound)?;
        self.views(owner, vec![row]).await?.pop().ok_or(AppError::NotFound)
    }

    async fn cancel(&self, owner: OwnerId, id: GenerationId) -> Result<(), AppError> {
        self.ai.db.generation(owner, id).await?.ok_or(AppError::NotFound)?;
        if self.ai.db.request_job_cancel(owner, JobId(id.0)).await? {
            Ok(())
        } else {
            Err(AppError::BadRequest("This run has already finished.".into()))
        }
    }

    async fn delete(&self, owner: OwnerId, id: Option<GenerationId>) -> Result<u64, AppError> {
        let (runs, photos) = self.ai.db.delete_generations(owner, id).await?;
        if id.is_some() && runs.is_empty() {
            return Err(AppError::NotFound);
        }
        for run in &runs {
            // A run still going stops at its next image; its job row keeps no prompt meanwhile.
            self.ai.db.request_job_cancel(owner, JobId(run.0)).await?;
            self.ai.db.forget_job_params(owner, JobId(run.0)).await?;
        }
        for photo in photos {
            match self.ai.photos.delete_photo(owner, photo).await {
                Ok(()) | Err(AppError::NotFound) => {}
                Err(error) => return Err(error),
            }
        }
        Ok(runs.len() as u64)
    }

    async fn save_template(&self, owner: OwnerId, mut template: PromptTemplate) -> Result<PromptTemplate, AppError> {
        template.check().map_err(AppError::BadRequest)?;
        let id = TemplateId(Uuid::new_v4());
        if !self.ai.db.insert_template(id, owner, &template).await? {
            return Err(AppError::QuotaExceeded(format!(
                "A workspace keeps at most {} templates; delete one you no longer use.",
                app::generate::MAX_TEMPLATES
            )));
        }
        template.id = Some(id);
        template.name = template.name.trim().to_string();
        Ok(template)
    }

    async fn delete_template(&self, owner: OwnerId, id: TemplateId) -> Result<(), AppError> {
        if self.ai.db.delete_template(owner, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    }
}

/// A seed for a run that named none, shown with it so it can be used again.
fn rand_seed() -> u32 {
    // The top bits of a random UUID: no extra dependency for one number.
    (Uuid::new_v4().as_u128() >> 96) as u32 & 0x7fff_ffff
}
