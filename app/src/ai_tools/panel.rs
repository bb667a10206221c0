//! The AI tools beside the editor: choose a tool, follow its job's progress live, compare before
//! and after, keep the result. The server does the work (see `server::ai_tools`).
//!
//! Each component returns `AnyView`: the nested view types of a whole panel overflow the
//! compiler's query depth in every binary that renders the editor page.

use leptos::prelude::*;

use crate::ai_tools::api::{
    cancel_job, held_photos, photo_jobs, save_result, start_tool, DecideHeld, KeepAltText, KeepDescription,
};
use crate::ai_tools::forms::{form, Services, Start};
use crate::ai_tools::{AiJob, HeldPhoto, PhotoDescription, ToolKind, ToolRequest};
use crate::error::AppError;
use crate::ids::{JobState, PhotoId};
use crate::photos::api::list_photos;
use crate::photos::PhotoSummary;
use crate::ui::{copy_to_clipboard, ErrorNote};

/// What the AI panel loads and sends, created once by the page outside any `Suspense`.
///
/// A `Resource` created by a component rendered inside a `Suspense` is created anew every time
/// that boundary re-checks its children on the server; under load the re-check can keep finding
/// new unfinished resources and never end (README, "Why pages once stalled"). So pages make
/// their resources first and hand them down.
#[derive(Clone, Copy)]
pub struct AiPanelData {
    start: Start,
    tick: RwSignal<u32>,
    jobs: Resource<Result<Vec<AiJob>, AppError>>,
    /// The visitor's photos, offered as backdrops.
    photos: Resource<Result<Vec<PhotoSummary>, AppError>>,
    /// The image services the server offers (generative fill, painted backdrops).
    services: Services,
    /// What each tool costs, shown beside it before it runs.
    prices: crate::billing::Prices,
}

impl AiPanelData {
    pub fn load(photo: Signal<Option<PhotoId>>) -> Self {
        let start = Action::new(move |request: &ToolRequest| {
            let (request, photo) = (request.clone(), photo.get_untracked());
            async move { start_tool(photo.ok_or(AppError::NotFound)?, request).await }
        });
        let tick = RwSignal::new(0u32);
        let jobs = Resource::new(
            move || (photo.get(), start.version().get(), tick.get()),
            |(photo, ..)| async move {
                match photo {
                    Some(photo) => photo_jobs(photo).await,
                    None => Ok(Vec::new()),
                }
            },
        );
        let photos = Resource::new(|| (), |_| list_photos());
        let services = Resource::new(|| (), |_| crate::generate::api::open_studio());
        Self { start, tick, jobs, photos, services, prices: crate::billing::load_prices() }
    }
}

#[component]
pub fn AiTools(photo: PhotoSummary, data: AiPanelData) -> impl IntoView {
    let AiPanelData { start, tick, jobs, photos, services, prices } = data;
    // While a job is unfinished, ask again every 0.7 s: the bars follow the server's progress.
    // A failed answer is asked again too, more slowly, so a passing error never freezes a bar.
    Effect::new(move |_| {
        let wait = match jobs.get() {
            Some(Ok(list)) if list.iter().any(|j| !j.state.is_finished()) => Some(700),
            Some(Err(_)) => Some(3000),
            _ => None,
        };
        crate::ui::ask_again(tick, wait);
    });
    // The newest description, apart from the list the polling redraws: only a new one (not a
    // progress tick of another job) replaces what the person is editing.
    let description = Memo::new(move |_| {
        jobs.get().and_then(Result::ok).and_then(|list| {
            list.into_iter()
                .find(|j| j.state == JobState::Done && j.description.is_some())
                .and_then(|j| j.description.map(|d| (j.id, j.photo_id, d)))
        })
    });
    // The text read by the newest "copy text" job, else the text kept on the photo (read after
    // upload or by an earlier job).
    let stored_text = photo.ocr_text.clone();
    let text = Memo::new(move |_| {
        jobs.get()
            .and_then(Result::ok)
            .and_then(|list| list.into_iter().find(|j| j.state == JobState::Done && j.text.is_some()))
            .and_then(|j| j.text)
            .or_else(|| stored_text.clone())
    });
    let photo_id = photo.id;
    let refresh = move || tick.update(|n| *n += 1);

    view! {
        <section class="ai-tools" aria-labelledby="ai-tools-title">
            <h2 id="ai-tools-title">"AI tools"</h2>
            <p class="hint">"These run on this server; only generative fill and backdrops painted from a prompt go to an image service this server's operator configured (the privacy page names it). Results are kept for 24 hours unless you save them to your gallery."</p>
            <div class="ai-tool-grid">
                {ToolKind::ALL.iter().map(|kind| view! {
                    <div class="ai-tool-cell">
                        {form(*kind, start, photos, services, &photo)}
                        <p class="hint"><crate::billing::CostNote tool=kind.name() prices/></p>
                    </div>
                }).collect_view()}
            </div>
            {move || start.value().get().and_then(Result::err).map(|error| view! { <ErrorNote error/> })}
            {move || description.get().map(|(id, photo, description)| view! {
                <section class="description-editor" data-job=id.to_string() aria-label="Suggested tags and alt-text">
                    <h3>"Tags and alt-text"</h3>
                    <DescriptionEditor photo description/>
                </section>
            })}
            {move || text.get().map(|text| view! {
                <section class="text-found" aria-label="Text in this photo">
                    <h3>"Text in this photo"</h3>
                    <TextFound photo=photo_id text/>
                </section>
            })}
            <h3>"Jobs"</h3>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match jobs.await {
                        Ok(list) if list.is_empty() => view! { <p class="hint">"No AI jobs on this photo yet."</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="ai-jobs">
                                {list.into_iter().map(|job| view! { <JobCard job refresh/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

#[component]
fn JobCard(job: AiJob, refresh: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let id = job.id;
    let cancel = Action::new(move |_: &()| async move { cancel_job(id).await });
    let save = Action::new(move |_: &()| async move { save_result(id).await });
    // Redraw the list after a change; an error stays on the card instead.
    Effect::new(move |_| {
        if matches!(cancel.value().get(), Some(Ok(_))) || matches!(save.value().get(), Some(Ok(_))) {
            refresh();
        }
    });
    let saving = save.pending();
    let status = match job.state {
        JobState::Queued if job.attempts > 0 => format!("Waiting to try again (attempt {} failed)", job.attempts),
        JobState::Queued => "Waiting…".to_string(),
        JobState::Running => format!("Running… {}%", (job.progress * 100.0).round()),
        JobState::Done => "Done".to_string(),
        JobState::Failed => "Failed".to_string(),
        JobState::Cancelled => "Cancelled".to_string(),
    };
    let details = [
        job.provider.clone().map(|p| format!("ran on {p}")),
        job.method.clone(),
        job.duration_ms.map(|ms| format!("{:.1} s", ms as f64 / 1000.0)),
        job.result_size.map(|(w, h)| format!("{w}×{h}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" · ");
    let unfinished = !job.state.is_finished();
    view! {
        <li class="ai-job" data-state=job.state.as_str() data-tool=job.tool.clone()>
            <div class="ai-job-head">
                <strong>{job.label.clone()}</strong>
                <span role="status">{status}</span>
                {unfinished.then(|| view! { <button type="button" on:click=move |_| { cancel.dispatch(()); }>"Cancel"</button> })}
            </div>
            <progress max="1" value=job.progress aria-label="Job progress"></progress>
            {(!details.is_empty()).then(|| view! { <p class="hint job-details">{details}</p> })}
            {job.error.clone().map(|e| view! { <p class="error">{e}</p> })}
            {job.result_url.clone().map(|after| view! {
                <div class="before-after">
                    <figure><img src=job.before_url.clone() alt="Before"/><figcaption>"Before"</figcaption></figure>
                    <figure class="checkerboard"><img src=after.clone() alt="After"/><figcaption>"After"</figcaption></figure>
                </div>
                <div class="ai-job-actions">
                    <a class="button" href=after rel="external" download>"Download"</a>
                    {match job.saved_photo_id {
                        Some(saved) => view! { <a class="button" href=format!("/photos/{saved}")>"Saved — open it"</a> }.into_any(),
                        None => view! { <button type="button" prop:disabled=saving on:click=move |_| { save.dispatch(()); }>"Save to gallery"</button> }.into_any(),
                    }}
                </div>
            })}
            {move || save.value().get().and_then(Result::err).or_else(|| cancel.value().get().and_then(Result::err)).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
            {job.description.is_some().then(|| view! { <p class="hint">"Tags and alt-text are ready to edit above."</p> })}
            {job.text.is_some().then(|| view! { <p class="hint">"The text read is shown above, to copy or use as alt-text."</p> })}
        </li>
    }
    .into_any()
}

/// Proposed tags and alt-text, editable, kept on the photo when the person says so.
#[component]
fn DescriptionEditor(photo: PhotoId, description: PhotoDescription) -> impl IntoView {
    let keep = ServerAction::<KeepDescription>::new();
    let tags = RwSignal::new(description.tags.join(", "));
    let alt_text = RwSignal::new(description.alt_text.clone());
    let submit = move |_| {
        let description = PhotoDescription {
            tags: tags.get().split(',').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect(),
            alt_text: alt_text.get(),
            caption: None,
        };
        keep.dispatch(KeepDescription { photo, description });
    };
    view! {
        <div class="description-fields">
            <label>"Tags " <input type="text" prop:value=tags on:input=move |ev| tags.set(event_target_value(&ev)) aria-label="Tags"/></label>
            <label>"Alt-text " <textarea prop:value=alt_text on:input=move |ev| alt_text.set(event_target_value(&ev)) aria-label="Alt-text" rows="3"></textarea></label>
            <button type="button" on:click=submit>"Keep tags and alt-text"</button>
            {move || match keep.value().get() {
                Some(Ok(_)) => Some(view! { <p class="notice" role="status">"Kept on this photo."</p> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
                None => None,
            }}
        </div>
    }
    .into_any()
}

/// Text read in the photo: selectable and editable (OCR makes mistakes), copied to the clipboard or
/// kept as the photo's alt-text.
#[component]
fn TextFound(photo: PhotoId, text: String) -> impl IntoView {
    if text.is_empty() {
        return view! { <p class="hint">"No text was found in this photo."</p> }.into_any();
    }
    let keep = ServerAction::<KeepAltText>::new();
    let copied = RwSignal::new(None::<bool>);
    let rows = text.lines().count().clamp(2, 12).to_string();
    let value = RwSignal::new(text);
    view! {
        <div class="text-found-fields">
            <textarea prop:value=value on:input=move |ev| value.set(event_target_value(&ev)) aria-label="Text in this photo" rows=rows></textarea>
            <div class="ai-job-actions">
                <button type="button" on:click=move |_| copy_to_clipboard(value.get_untracked(), copied)>"Copy"</button>
                <button type="button" on:click=move |_| { keep.dispatch(KeepAltText { photo, alt_text: value.get_untracked() }); }>"Use as alt-text"</button>
            </div>
            {move || match copied.get() {
                Some(true) => Some(view! { <p class="notice" role="status">"Copied."</p> }.into_any()),
                Some(false) => Some(view! { <p class="hint" role="status">"This browser did not allow copying: select the text and copy it."</p> }.into_any()),
                None => None,
            }}
            {move || match keep.value().get() {
                Some(Ok(_)) => Some(view! { <p class="notice" role="status">"Kept as this photo's alt-text."</p> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
                None => None,
            }}
        </div>
    }
    .into_any()
}

/// The held uploads and the decisions on them, made once by the admin page outside its
/// `Suspense` (see `AiPanelData` for why).
#[derive(Clone, Copy)]
pub struct HeldData {
    decide: ServerAction<DecideHeld>,
    held: Resource<Result<Vec<HeldPhoto>, AppError>>,
}

impl HeldData {
    pub fn load() -> Self {
        let decide = ServerAction::<DecideHeld>::new();
        Self { decide, held: Resource::new(move || decide.version().get(), |_| held_photos()) }
    }
}

/// On the admin page: uploads moderation held, to release or delete (each decision audited).
#[component]
pub fn HeldUploads(data: HeldData) -> impl IntoView {
    let HeldData { decide, held } = data;
    view! {
        <h2>"Held uploads"</h2>
        <p class="hint">"Uploads that open_nsfw scored at or above the moderation threshold. Their owners see them as held; nothing was deleted."</p>
        {move || decide.value().get().and_then(Result::err).map(|e| view! { <p class="error" role="alert">{e.to_string()}</p> })}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match held.await {
                    Ok(list) if list.is_empty() => view! { <p class="hint">"Nothing is held."</p> }.into_any(),
                    Ok(list) => view! {
                        <table class="held-uploads">
                            <thead><tr><th>"Upload"</th><th>"Owner"</th><th>"Score"</th><th>"Uploaded"</th><th></th></tr></thead>
                            <tbody>
                                {list.into_iter().map(|photo| view! {
                                    <tr>
                                        <td>{photo.name}</td>
                                        <td>{photo.owner_label}</td>
                                        <td>{format!("{:.2}", photo.score)}</td>
                                        <td>{crate::ui::when(photo.created_at)}</td>
                                        <td>
                                            <button type="button" on:click=move |_| { decide.dispatch(DecideHeld { photo: photo.id, release: true }); }>"Release"</button>
                                            <button type="button" on:click=move |_| { decide.dispatch(DecideHeld { photo: photo.id, release: false }); }>"Delete"</button>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}
