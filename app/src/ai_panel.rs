//! The AI tools beside the editor: choose a tool, follow its job's progress live, compare before
//! and after, keep the result. The server does the work (see `server::jobs`).
//!
//! Each component returns `AnyView`: the nested view types of a whole panel overflow the
//! compiler's query depth in every binary that renders the editor page.

use leptos::html;
use leptos::prelude::*;

use crate::ai::{cancel_job, held_photos, photo_jobs, save_result, start_tool, DecideHeld, KeepDescription};
use crate::api::list_photos;
use crate::error::AppError;
use crate::model::{AiJob, Backdrop, JobState, PhotoDescription, PhotoId, PhotoSummary, ToolRequest, UpscaleQuality};

/// The longest side of the mask canvas; the server scales the mask to the photo.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MASK_MAX_SIDE: u32 = 1024;

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
        Self { start, tick, jobs, photos }
    }
}

#[component]
pub fn AiTools(photo: PhotoSummary, data: AiPanelData) -> impl IntoView {
    let AiPanelData { start, tick, jobs, photos } = data;
    // While a job is unfinished, ask again every 0.7 s: the bars follow the server's progress.
    // A failed answer is asked again too, more slowly, so a passing error never freezes a bar.
    Effect::new(move |_| {
        let wait = match jobs.get() {
            Some(Ok(list)) if list.iter().any(|j| !j.state.is_finished()) => Some(700),
            Some(Err(_)) => Some(3000),
            _ => None,
        };
        if let Some(_ms) = wait {
            #[cfg(feature = "hydrate")]
            set_timeout(move || tick.update(|n| *n += 1), std::time::Duration::from_millis(_ms));
        }
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
    let refresh = move || tick.update(|n| *n += 1);

    view! {
        <section class="ai-tools" aria-labelledby="ai-tools-title">
            <h2 id="ai-tools-title">"AI tools"</h2>
            <p class="hint">"These run on this server, never elsewhere. Results are kept for 24 hours unless you save them to your gallery."</p>
            <div class="ai-tool-grid">
                <BackgroundTool start photos/>
                <UpscaleTool start/>
                <DescribeTool start/>
            </div>
            <EraserTool start photo=photo.clone()/>
            {move || start.value().get().and_then(Result::err).map(|error| view! { <p class="error" role="alert">{error.to_string()}</p> })}
            {move || description.get().map(|(id, photo, description)| view! {
                <section class="description-editor" data-job=id.to_string() aria-label="Suggested tags and alt-text">
                    <h3>"Tags and alt-text"</h3>
                    <DescriptionEditor photo description/>
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
                        Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
    .into_any()
}

type Start = Action<ToolRequest, Result<AiJob, AppError>>;

#[component]
fn BackgroundTool(start: Start, photos: Resource<Result<Vec<PhotoSummary>, AppError>>) -> impl IntoView {
    let portrait = RwSignal::new(false);
    let backdrop_kind = RwSignal::new("transparent".to_string());
    let colour = RwSignal::new("#ffffff".to_string());
    let backdrop_photo = RwSignal::new(String::new());
    let refine = RwSignal::new(true);
    let feather = RwSignal::new(0.0f32);
    let submit = move |_| {
        let backdrop = match backdrop_kind.get().as_str() {
            "colour" => Backdrop::Colour { hex: colour.get() },
            "photo" => match backdrop_photo.get().parse() {
                Ok(id) => Backdrop::Photo { id },
                Err(_) => Backdrop::Transparent,
            },
            _ => Backdrop::Transparent,
        };
        start.dispatch(ToolRequest::RemoveBackground {
            portrait: portrait.get(),
            backdrop,
            refine: refine.get(),
            feather: feather.get(),
        });
    };
    view! {
        <fieldset class="ai-tool">
            <legend>"Remove background"</legend>
            <label>"Subject "
                <select on:change=move |ev| portrait.set(event_target_value(&ev) == "portrait") aria-label="Subject">
                    <option value="objects">"Anything (IS-Net)"</option>
                    <option value="portrait">"People, fast (portrait)"</option>
                </select>
            </label>
            <label>"Background "
                <select on:change=move |ev| backdrop_kind.set(event_target_value(&ev)) aria-label="Background">
                    <option value="transparent">"Transparent"</option>
                    <option value="colour">"Colour"</option>
                    <option value="photo">"Another photo"</option>
                </select>
            </label>
            <Show when=move || backdrop_kind.get() == "colour">
                <label>"Colour " <input type="color" prop:value=colour on:input=move |ev| colour.set(event_target_value(&ev))/></label>
            </Show>
            <Show when=move || backdrop_kind.get() == "photo">
                <label>"Photo "
                    <select on:change=move |ev| backdrop_photo.set(event_target_value(&ev)) aria-label="Background photo">
                        <option value="">"Choose…"</option>
                        <Transition fallback=|| ()>
                            {move || Suspend::new(async move {
                                photos.await.unwrap_or_default().into_iter().map(|p| view! { <option value=p.id.to_string()>{p.name}</option> }).collect_view()
                            })}
                        </Transition>
                    </select>
                </label>
            </Show>
            <label><input type="checkbox" prop:checked=refine on:change=move |ev| refine.set(event_target_checked(&ev))/>" Refine edges"</label>
            <label>"Soft edge "
                <input type="range" min="0" max="20" step="1" prop:value=move || feather.get().to_string()
                    on:input=move |ev| feather.set(event_target_value(&ev).parse().unwrap_or(0.0)) aria-label="Soft edge"/>
            </label>
            <button type="button" on:click=submit>"Remove background"</button>
        </fieldset>
    }
    .into_any()
}

#[component]
fn UpscaleTool(start: Start) -> impl IntoView {
    let factor = RwSignal::new(2u32);
    let quality = RwSignal::new(UpscaleQuality::Fast);
    view! {
        <fieldset class="ai-tool">
            <legend>"Upscale"</legend>
            <label>"Factor "
                <select on:change=move |ev| factor.set(event_target_value(&ev).parse().unwrap_or(2)) aria-label="Factor">
                    <option value="2">"x2"</option>
                    <option value="4">"x4"</option>
                </select>
            </label>
            <label>"Quality "
                <select aria-label="Quality" on:change=move |ev| quality.set(match event_target_value(&ev).as_str() {
                    "balanced" => UpscaleQuality::Balanced,
                    "best" => UpscaleQuality::Best,
                    _ => UpscaleQuality::Fast,
                })>
                    <option value="fast">"Fast (ESRGAN slim)"</option>
                    <option value="balanced">"Balanced (ESRGAN medium)"</option>
                    <option value="best">"Best (ESRGAN thick, slow)"</option>
                </select>
            </label>
            <button type="button" on:click=move |_| { start.dispatch(ToolRequest::Upscale { factor: factor.get(), quality: quality.get() }); }>"Upscale"</button>
        </fieldset>
    }
    .into_any()
}

#[component]
fn DescribeTool(start: Start) -> impl IntoView {
    view! {
        <fieldset class="ai-tool">
            <legend>"Tags and alt-text"</legend>
            <p class="hint">"Objects, faces, colours and camera details become tags and a sentence you can edit."</p>
            <button type="button" on:click=move |_| { start.dispatch(ToolRequest::Describe); }>"Suggest tags and alt-text"</button>
        </fieldset>
    }
    .into_any()
}

/// Paint over what should disappear, then erase: the server fills it from the rest of the photo.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
#[component]
fn EraserTool(start: Start, photo: PhotoSummary) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let brush = RwSignal::new(24.0f64);
    let painting = RwSignal::new(false);
    let message = RwSignal::new(None::<String>);
    let (width, height) = {
        let scale = (f64::from(MASK_MAX_SIDE) / f64::from(photo.width.max(photo.height).max(1))).min(1.0);
        (
            ((f64::from(photo.width) * scale).round() as u32).max(1),
            ((f64::from(photo.height) * scale).round() as u32).max(1),
        )
    };
    let paint = move |_event: leptos::ev::PointerEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas.get() {
            let (x, y) = crate::browser::mask::position(&canvas, &_event);
            if let Err(error) = crate::browser::mask::dot(&canvas, x, y, brush.get_untracked()) {
                message.set(Some(error));
            }
        }
    };
    let erase = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas.get() {
            match crate::browser::mask::data_url(&canvas) {
                Ok(Some(mask)) => {
                    message.set(None);
                    start.dispatch(ToolRequest::Erase { mask });
                }
                Ok(None) => message.set(Some("Paint over what should be erased first.".into())),
                Err(error) => message.set(Some(error)),
            }
        }
    };
    let clear = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas.get() {
            let _ = crate::browser::mask::clear(&canvas);
        }
    };
    view! {
        <fieldset class="ai-tool eraser">
            <legend>"Magic eraser"</legend>
            <p class="hint">"Paint over an object, then erase it."</p>
            <div class="mask-stage">
                <img src=photo.original_url.clone() alt="" draggable="false"/>
                <canvas node_ref=canvas class="mask-canvas" width=width height=height aria-label="Eraser mask: paint here"
                    on:pointerdown=move |event: leptos::ev::PointerEvent| { painting.set(true); paint(event); }
                    on:pointermove=move |event: leptos::ev::PointerEvent| if painting.get_untracked() { paint(event); }
                    on:pointerup=move |_| painting.set(false)
                    on:pointerleave=move |_| painting.set(false)></canvas>
            </div>
            <label>"Brush "
                <input type="range" min="4" max="96" step="2" prop:value=move || brush.get().to_string()
                    on:input=move |ev| brush.set(event_target_value(&ev).parse().unwrap_or(24.0)) aria-label="Brush size"/>
            </label>
            <button type="button" on:click=clear>"Clear mask"</button>
            <button type="button" on:click=erase>"Erase"</button>
            {move || message.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </fieldset>
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
        </li>
    }
    .into_any()
}

/// Proposed tags and alt-text, editable, kept on the photo when the person says so.
#[component]
fn DescriptionEditor(photo: crate::model::PhotoId, description: PhotoDescription) -> impl IntoView {
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
                Some(Err(error)) => Some(view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any()),
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
    held: Resource<Result<Vec<crate::model::HeldPhoto>, AppError>>,
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
                                        <td>{crate::account_pages::when(photo.created_at)}</td>
                                        <td>
                                            <button type="button" on:click=move |_| { decide.dispatch(DecideHeld { photo: photo.id, release: true }); }>"Release"</button>
                                            <button type="button" on:click=move |_| { decide.dispatch(DecideHeld { photo: photo.id, release: false }); }>"Delete"</button>
                                        </td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(error) => view! { <p class="error" role="alert">{error.to_string()}</p> }.into_any(),
                }
            })}
        </Transition>
    }
    .into_any()
}
