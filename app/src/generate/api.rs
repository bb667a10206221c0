//! Server functions for the studio.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

#[cfg(feature = "ssr")]
use crate::generate::Generations;
#[cfg(feature = "ssr")]
use crate::server_fn::{owner, run, service, visitor, workspace};

use crate::error::AppError;
use crate::generate::{GenerateRequest, Generation, PromptTemplate, Studio};
use crate::ids::{GenerationId, TemplateId};

#[server(endpoint = "generate/studio")]
pub async fn open_studio() -> Result<Studio, AppError> {
    run(async { service::<Generations>()?.studio(visitor().await?).await }).await
}

#[server(endpoint = "generate/start", input = Json)]
pub async fn start_generation(request: GenerateRequest) -> Result<Generation, AppError> {
    run(async { service::<Generations>()?.start(workspace().await?, request).await }).await
}

#[server(endpoint = "generate/history")]
pub async fn generation_history(search: String) -> Result<Vec<Generation>, AppError> {
    run(async {
        match visitor().await? {
            Some(owner) => service::<Generations>()?.history(owner, search).await,
            None => Ok(Vec::new()),
        }
    })
    .await
}

#[server(endpoint = "generate/get")]
pub async fn get_generation(id: GenerationId) -> Result<Generation, AppError> {
    run(async {
        let owner = visitor().await?.ok_or(AppError::NotFound)?;
        service::<Generations>()?.generation(owner, id).await
    })
    .await
}

#[server(endpoint = "generate/cancel")]
pub async fn cancel_generation(id: GenerationId) -> Result<(), AppError> {
    run(async { service::<Generations>()?.cancel(owner().await?, id).await }).await
}

/// Deletes one run from the history, or all of them when `id` is absent.
#[server(endpoint = "generate/delete")]
pub async fn delete_generations(id: Option<GenerationId>) -> Result<u64, AppError> {
    run(async { service::<Generations>()?.delete(owner().await?, id).await }).await
}

#[server(endpoint = "generate/save-template", input = Json)]
pub async fn save_template(template: PromptTemplate) -> Result<PromptTemplate, AppError> {
    run(async { service::<Generations>()?.save_template(workspace().await?, template).await }).await
}

#[server(endpoint = "generate/delete-template")]
pub async fn delete_template(id: TemplateId) -> Result<(), AppError> {
    run(async { service::<Generations>()?.delete_template(owner().await?, id).await }).await
}
