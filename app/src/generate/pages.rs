//! The studio: write a prompt (or start from a template), pick a service, a shape, a style and
//! optionally a reference photo, and watch the images arrive; below, the prompt history, searchable
//! and re-runnable.

use leptos::prelude::*;

use crate::ai_tools::api::start_tool;
use crate::ai_tools::{ToolRequest, UpscaleQuality};
use crate::generate::api::{
    delete_generations, delete_template, generation_history, get_generation, open_studio, save_template,
    start_generation,
};
use crate::generate::{
    Aspect, GenerateRequest, GeneratedImage, Generation, PromptTemplate, Reference, Studio, MAX_IMAGES, STYLES,
};
use crate::ids::{GenerationId, JobState, PhotoId};
use crate::photos::api::{list_photos, save_to_gallery};
use crate::recipe::EditRecipe;
use crate::ui::{ask_again, ErrorNote};

#[component]
pub fn StudioPage() -> impl IntoView {
    let changed = RwSignal::new(0u32);
    let studio = Resource::new(move || changed.get(), |_| open_studio());
    // Every resource of the page is made here, before any Suspense: one made by a component
    // inside one is made anew each time the server re-checks it (README, "Why pages once stalled").
    let data = StudioData::load();
    view! {
        <section class="studio">
            <h1>"Studio"</h1>
            <Transition fallback=|| view! { <p>"Loading…"</p> }>
                {move || Suspend::new(async move { match studio.await {
                    Ok(studio) if studio.providers.is_empty() => view! {
                        <p class="notice">"No image service is configured on this server, so images cannot be generated here. "
                            "An administrator can add one (an OpenAI-compatible Images API or a Stable Diffusion WebUI) under "
                            <code>"[[generation.providers]]"</code>" in the settings file. "
                            "Style transfer and retro looks work without one: open a photo in the editor."</p>
                    }.into_any(),
                    Ok(studio) => view! { <Generator studio changed data/> }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                } })}
            </Transition>
        </section>
    }
}

/// The studio's lists: the history (with its search) and the workspace's photos (references).
#[derive(Clone, Copy)]
struct StudioData {
    /// Bumped when a run starts, ends or is deleted: the lists are asked for again.
    changed: RwSignal<u32>,
    search: RwSignal<String>,
    history: Resource<Result<Vec<Generation>, crate::error::AppError>>,
    photos: Resource<Result<Vec<crate::photos::PhotoSummary>, crate::error::AppError>>,
}

impl StudioData {
    fn load() -> Self {
        let changed = RwSignal::new(0u32);
        let search = RwSignal::new(String::new());
        let history = Resource::new(move || (changed.get(), search.get()), |(_, search)| generation_history(search));
        let photos = Resource::new(move || changed.get(), |_| list_photos());
        Self { changed, search, history, photos }
    }
}

#[component]
fn Generator(studio: Studio, changed: RwSignal<u32>, data: StudioData) -> impl IntoView {
    let providers = StoredValue::new(studio.providers.clone());
    let templates = StoredValue::new(studio.templates.clone());
    let draft = RwSignal::new(GenerateRequest {
        provider: studio.providers.first().map(|p| p.name.clone()).unwrap_or_default(),
        ..GenerateRequest::default()
    });
    let provider = move || {
        let name = draft.with(|d| d.provider.clone());
        providers.with_value(|list| list.iter().find(|p| p.name == name).cloned())
    };
    let features = move || provider().map(|p| p.features).unwrap_or_default();
    let current = RwSignal::new(None::<GenerationId>);
    let (history_changed, photos) = (data.changed, data.photos);
    let start = Action::new(move |request: &GenerateRequest| {
        let request = request.clone();
        async move { start_generation(request).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(run)) = start.value().get() {
            current.set(Some(run.id));
            history_changed.update(|n| *n += 1);
        }
    });
    let run_again = move |request: GenerateRequest| {
        draft.set(request.clone());
        start.dispatch(request);
    };

    // `read` and `write` name the same field: the first reads it in place, the second changes it.
    let text = move |label: &'static str,
                     read: fn(&GenerateRequest) -> &String,
                     write: fn(&mut GenerateRequest) -> &mut String,
                     rows: u32| {
        view! {
            <label class="stack">{label}
                <textarea rows=rows maxlength="2000" name=label.to_lowercase()
                    prop:value=move || draft.with(|d| read(d).clone())
                    on:input=move |ev| { let value = event_target_value(&ev); draft.update(|d| *write(d) = value); }/>
            </label>
        }
    };
    let template_name = RwSignal::new(String::new());
    let keep_template = Action::new(move |template: &PromptTemplate| {
        let template = template.clone();
        async move { save_template(template).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = keep_template.value().get() {
            changed.update(|n| *n += 1);
        }
    });
    let forget_template = Action::new(move |id: &crate::ids::TemplateId| {
        let id = *id;
        async move {
            let done = delete_template(id).await;
            changed.update(|n| *n += 1);
            done
        }
    });

    view! {
        <form class="generator" on:submit=move |ev| { ev.prevent_default(); start.dispatch(draft.get()); }>
            <div class="row">
                <label>"Service "
                    <select name="provider" on:change=move |ev| {
                        let name = event_target_value(&ev);
                        draft.update(|d| { d.provider = name; d.model = None; });
                    }>
                        {providers.get_value().into_iter().map(|p| view! {
                            <option value=p.name.clone()>{format!("{} — {}", p.name, p.kind_label)}</option>
                        }).collect_view()}
                    </select>
                </label>
                {move || provider().filter(|p| p.models.len() > 1).map(|p| view! {
                    <label>"Model "
                        <select name="model" on:change=move |ev| { let m = event_target_value(&ev); draft.update(|d| d.model = Some(m)); }>
                            {p.models.into_iter().map(|m| view! { <option value=m.clone()>{m.clone()}</option> }).collect_view()}
                        </select>
                    </label>
                })}
                <label>"Template "
                    <select name="template" on:change=move |ev| {
                        let index: Option<usize> = event_target_value(&ev).parse().ok();
                        if let Some(t) = index.and_then(|i| templates.with_value(|list| list.get(i).cloned())) {
                            draft.update(|d| { d.prompt = t.prompt; d.negative_prompt = t.negative_prompt; d.style = t.style; });
                        }
                    }>
                        <option value="">"—"</option>
                        {templates.get_value().into_iter().enumerate().map(|(i, t)| view! {
                            <option value=i.to_string()>{if t.id.is_some() { format!("{} (yours)", t.name) } else { t.name.clone() }}</option>
                        }).collect_view()}
                    </select>
                </label>
            </div>
            {text("Prompt", |d| &d.prompt, |d| &mut d.prompt, 3)}
            <Show when=move || features().negative_prompt>
                {text("Negative prompt", |d| &d.negative_prompt, |d| &mut d.negative_prompt, 2)}
            </Show>
            <div class="row">
                <label>"Style "
                    <select name="style" on:change=move |ev| { let s = event_target_value(&ev); draft.update(|d| d.style = (!s.is_empty()).then_some(s)); }>
                        <option value="" prop:selected=move || draft.with(|d| d.style.is_none())>"None"</option>
                        {STYLES.iter().map(|s| view! {
                            <option value=s.id prop:selected=move || draft.with(|d| d.style.as_deref() == Some(s.id))>{s.label}</option>
                        }).collect_view()}
                    </select>
                </label>
                <label>"Shape "
                    <select name="aspect" on:change=move |ev| {
                        if let Some(a) = Aspect::parse(&event_target_value(&ev)) { draft.update(|d| d.aspect = a); }
                    }>
                        {move || {
                            let sizes = provider().map(|p| p.sizes).unwrap_or_default();
                            Aspect::ALL.iter().map(|a| {
                                let size = sizes.iter().find(|(k, ..)| k == a.key()).map(|(_, w, h)| format!(" ({w}×{h})")).unwrap_or_default();
                                let a = *a;
                                view! { <option value=a.key() prop:selected=move || draft.with(|d| d.aspect == a)>{format!("{}{size}", a.label())}</option> }
                            }).collect_view()
                        }}
                    </select>
                </label>
                <label>"Images "
                    <input type="number" name="count" min="1" max=MAX_IMAGES.to_string() prop:value=move || draft.with(|d| d.count.to_string())
                        on:input=move |ev| { if let Ok(n) = event_target_value(&ev).parse() { draft.update(|d| d.count = n); } }/>
                </label>
                <Show when=move || features().seed>
                    <label>"Seed "
                        <input type="text" name="seed" inputmode="numeric" placeholder="random" size="10"
                            prop:value=move || draft.with(|d| d.seed.map(|s| s.to_string()).unwrap_or_default())
                            on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.seed = v.trim().parse().ok()); }/>
                    </label>
                </Show>
                <Show when=move || features().steps>
                    <label>"Steps "
                        <input type="number" name="steps" min="1" max="150" placeholder="25" prop:value=move || draft.with(|d| d.steps.map(|s| s.to_string()).unwrap_or_default())
                            on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.steps = v.parse().ok()); }/>
                    </label>
                </Show>
                <Show when=move || features().guidance>
                    <label>"Guidance "
                        <input type="number" name="guidance" min="1" max="30" step="0.5" placeholder="7" prop:value=move || draft.with(|d| d.guidance.map(|s| s.to_string()).unwrap_or_default())
                            on:input=move |ev| { let v = event_target_value(&ev); draft.update(|d| d.guidance = v.parse().ok()); }/>
                    </label>
                </Show>
            </div>
            <Show when=move || features().reference>
                <div class="row">
                    <label>"Reference photo "
                        <select name="reference" on:change=move |ev| {
                            let photo: Option<PhotoId> = event_target_value(&ev).parse().ok();
                            draft.update(|d| d.reference = photo.map(|photo| Reference { photo, strength: d.reference.as_ref().map_or(0.6, |r| r.strength) }));
                        }>
                            <option value="">"None (text to image)"</option>
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    photos.await.unwrap_or_default().into_iter().filter(|p| !p.held).map(|p| {
                                        let id = p.id;
                                        view! { <option value=id.to_string() prop:selected=move || draft.with(|d| d.reference.as_ref().map(|r| r.photo) == Some(id))>{p.name.clone()}</option> }
                                    }).collect_view()
                                })}
                            </Transition>
                        </select>
                    </label>
                    <Show when=move || features().strength && draft.with(|d| d.reference.is_some())>
                        <label>"Change "
                            <input type="range" name="strength" min="0" max="1" step="0.05" aria-label="How far to move from the reference"
                                prop:value=move || draft.with(|d| d.reference.as_ref().map_or(0.6, |r| r.strength).to_string())
                                on:input=move |ev| { let v: f32 = event_target_value(&ev).parse().unwrap_or(0.6); draft.update(|d| if let Some(r) = &mut d.reference { r.strength = v; }); }/>
                            {move || draft.with(|d| d.reference.as_ref().map(|r| format!(" {:.0}%", r.strength * 100.0)))}
                        </label>
                    </Show>
                </div>
            </Show>
            <p>
                <button type="submit" class="primary" disabled=move || start.pending().get() || draft.with(|d| d.prompt.trim().is_empty())>
                    {move || {
                        let (count, credits) = (draft.with(|d| d.count), provider().map_or(0, |p| p.credits_per_image));
                        match count { 1 => format!("Generate 1 image ({credits} credits)"), n => format!("Generate {n} images ({} credits)", credits * u64::from(n)) }
                    }}
                </button>
                " "
                <input type="text" name="template_name" maxlength="80" placeholder="Template name" aria-label="Template name"
                    prop:value=template_name on:input=move |ev| template_name.set(event_target_value(&ev))/>
                <button type="button" disabled=move || template_name.get().trim().is_empty() || draft.with(|d| d.prompt.trim().is_empty())
                    on:click=move |_| {
                        let d = draft.get();
                        keep_template.dispatch(PromptTemplate { id: None, name: template_name.get(), prompt: d.prompt, negative_prompt: d.negative_prompt, style: d.style });
                    }>"Save as template"</button>
            </p>
            {move || match start.value().get() { Some(Err(error)) => Some(view! { <ErrorNote error/> }), _ => None }}
            {move || match keep_template.value().get() { Some(Err(error)) => Some(view! { <ErrorNote error/> }), _ => None }}
        </form>
        {move || templates.with_value(|list| list.iter().any(|t| t.id.is_some())).then(|| view! {
            <details class="templates"><summary>"Your templates"</summary>
                <ul>{templates.get_value().into_iter().filter_map(|t| t.id.map(|id| (id, t))).map(|(id, t)| view! {
                    <li>{t.name.clone()} " " <button type="button" class="link" on:click=move |_| { forget_template.dispatch(id); }>"Delete"</button></li>
                }).collect_view()}</ul>
            </details>
        })}
        {move || current.get().map(|id| view! { <CurrentRun id draft on_finished=move || history_changed.update(|n| *n += 1)/> }.into_any())}
        <History data draft run_again/>
    }
    .into_any()
}

/// The run just started: its images as they arrive, with what can be done with each.
#[component]
fn CurrentRun(
    id: GenerationId,
    draft: RwSignal<GenerateRequest>,
    on_finished: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let run = Resource::new(move || tick.get(), move |_| get_generation(id));
    let was_running = StoredValue::new(true);
    let on_finished = StoredValue::new(on_finished);
    view! {
        <section class="current-run" aria-live="polite">
            <h2>"This run"</h2>
            <Transition fallback=|| view! { <p>"Starting…"</p> }>
                {move || Suspend::new(async move {
                    let result = run.await;
                    if let Ok(run) = &result {
                        if run.finished() {
                            if was_running.get_value() { was_running.set_value(false); on_finished.with_value(|f| f()); }
                        } else {
                            ask_again(tick, Some(1000));
                        }
                    }
                    match result {
                        Ok(run) => view! { <RunView run draft/> }.into_any(),
                        Err(error) => view! { <ErrorNote error/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

fn state_words(run: &Generation) -> String {
    let made = run.images.len();
    match run.state {
        Some(JobState::Queued) => "Waiting for a worker…".into(),
        Some(JobState::Running) => format!("Generating… {made} of {} ready", run.request.count),
        Some(JobState::Done) => format!("Finished: {made} of {} kept", run.request.count),
        Some(JobState::Failed) => format!("Failed: {}", run.error.clone().unwrap_or_default()),
        Some(JobState::Cancelled) => format!("Cancelled after {made} of {}", run.request.count),
        None => format!("{made} images still kept"),
    }
}

#[component]
fn RunView(run: Generation, draft: RwSignal<GenerateRequest>) -> impl IntoView {
    let words = state_words(&run);
    let failed = run.state == Some(JobState::Failed);
    view! {
        <p class=if failed { "error" } else { "status" } role="status">{words}</p>
        {(!run.finished()).then(|| view! { <progress max="1" value=run.progress.to_string()></progress> })}
        <ul class="grid generated">
            {run.images.into_iter().map(|image| view! { <ImageCard image draft/> }).collect_view()}
        </ul>
    }
}

/// One generated image: keep it, start from it, edit or upscale it.
#[component]
fn ImageCard(image: GeneratedImage, draft: RwSignal<GenerateRequest>) -> impl IntoView {
    let photo = image.photo.clone();
    let id = photo.id;
    let saved = RwSignal::new(image.saved);
    let save = Action::new(move |_: &()| async move { save_to_gallery(id, EditRecipe::default()).await });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            saved.set(true);
        }
    });
    let upscale = Action::new(move |_: &()| async move {
        start_tool(id, ToolRequest::Upscale { factor: 2, quality: UpscaleQuality::Balanced }).await
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = upscale.value().get() {
            crate::ui::reload_to(&format!("/photos/{id}"));
        }
    });
    if photo.held {
        return view! {
            <li class="card held"><p>"Held for review: moderation flagged this image. An administrator decides whether you may see it."</p></li>
        }
        .into_any();
    }
    let seed = image.seed.map(|s| format!("seed {s}")).unwrap_or_default();
    view! {
        <li class="card generated-image">
            <a href=photo.original_url.clone() target="_blank"><img src=photo.thumbnail_url.clone() alt=format!("Generated: {}", photo.name) loading="lazy"/></a>
            <p class="meta">{format!("{}×{} ", photo.width, photo.height)}{seed}</p>
            <p class="actions">
                {move || if saved.get() {
                    view! { <span class="badge">"In the gallery"</span> }.into_any()
                } else {
                    view! { <button type="button" disabled=move || save.pending().get() on:click=move |_| { save.dispatch(()); }>"Save to gallery"</button> }.into_any()
                }}
                " "
                <button type="button" on:click=move |_| draft.update(|d| d.reference = Some(Reference { photo: id, strength: d.reference.as_ref().map_or(0.6, |r| r.strength) }))>"Use as reference"</button>
                " " <a href=format!("/photos/{id}") class="button">"Edit"</a> " "
                <button type="button" disabled=move || upscale.pending().get() on:click=move |_| { upscale.dispatch(()); }>"Upscale ×2"</button>
            </p>
            {move || match (save.value().get(), upscale.value().get()) {
                (Some(Err(error)), _) | (_, Some(Err(error))) => Some(view! { <ErrorNote error/> }),
                _ => None,
            }}
        </li>
    }
    .into_any()
}

/// Every run kept for this workspace, searchable, each re-runnable and deletable.
#[component]
fn History(
    data: StudioData,
    draft: RwSignal<GenerateRequest>,
    run_again: impl Fn(GenerateRequest) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let StudioData { changed, search, history, .. } = data;
    let delete = Action::new(move |id: &Option<GenerationId>| {
        let id = *id;
        async move {
            let done = delete_generations(id).await;
            changed.update(|n| *n += 1);
            done
        }
    });
    let run_again = StoredValue::new(run_again);
    view! {
        <section class="history">
            <h2>"Prompt history"</h2>
            <p class="row">
                <input type="search" name="search" placeholder="Search your prompts" aria-label="Search your prompts"
                    on:change=move |ev| search.set(event_target_value(&ev))/>
                <button type="button" class="danger" on:click=move |_| {
                    #[cfg(feature = "hydrate")]
                    if !window().confirm_with_message("Delete the whole prompt history, with the images you did not save?").unwrap_or(false) { return; }
                    delete.dispatch(None);
                }>"Delete all history"</button>
            </p>
            {move || match delete.value().get() { Some(Err(error)) => Some(view! { <ErrorNote error/> }), _ => None }}
            <Transition fallback=|| view! { <p>"Loading history…"</p> }>
                {move || Suspend::new(async move { match history.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">{if search.get_untracked().trim().is_empty() { "No runs yet." } else { "No run matches your search." }}</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="runs">
                            {list.into_iter().map(|run| {
                                let (id, request) = (run.id, run.request.clone());
                                let again = request.clone();
                                let style = request.style.as_deref().and_then(crate::generate::style_by_id).map(|s| format!(" · {}", s.label)).unwrap_or_default();
                                let seed = run.seed.map(|s| format!(" · seed {s}")).unwrap_or_default();
                                view! {
                                    <li class="run">
                                        <p class="prompt">{request.prompt.clone()}</p>
                                        <p class="meta">
                                            {format!("{}{} · {}×{}{style}{seed} · {} · ", request.provider, run.model.as_ref().map(|m| format!(" ({m})")).unwrap_or_default(), run.width, run.height, crate::ui::when(run.created_at))}
                                            {state_words(&run)}
                                        </p>
                                        <ul class="thumbs">
                                            {run.images.iter().filter(|i| !i.photo.held).map(|i| view! {
                                                <li><a href=format!("/photos/{}", i.photo.id)><img src=i.photo.thumbnail_url.clone() alt="" loading="lazy"/></a></li>
                                            }).collect_view()}
                                        </ul>
                                        <p class="actions">
                                            <button type="button" on:click=move |_| run_again.with_value(|f| f(again.clone()))>"Run again"</button>
                                            " "
                                            <button type="button" on:click=move |_| draft.set(request.clone())>"Use these settings"</button>
                                            " "
                                            <button type="button" class="danger" on:click=move |_| { delete.dispatch(Some(id)); }>"Delete"</button>
                                        </p>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                } })}
            </Transition>
        </section>
    }
}
