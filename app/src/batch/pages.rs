//! The batch page (choose photos, choose or build a pipeline, preview it, run it) and a batch's
//! live progress page.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use crate::ai_tools::{Backdrop, Scene, SceneFields, ToolRequest, UpscaleQuality};
use crate::batch::api::{
    control_batch, delete_pipeline, get_batch, list_batches, list_pipelines, run_batch, save_pipeline,
};
use crate::batch::{BatchAction, BatchDetail, Pipeline, PipelineChoice, Step, MAX_PIPELINE_STEPS};
use crate::error::AppError;
use crate::ids::{BatchId, JobState, PhotoId};
use crate::optimize::{ExportFormat, ExportSettings, PRESETS};
use crate::photos::api::list_photos;
use crate::photos::dropzone::Dropzone;
use crate::recipe::{EditOp, EditRecipe};
use crate::shell::NotFound;
use crate::ui::ErrorNote;

#[component]
pub fn BatchesPage() -> impl IntoView {
    let uploaded = RwSignal::new(0u32);
    let photos = Resource::new(move || uploaded.get(), |_| list_photos());
    let pipelines_changed = RwSignal::new(0u32);
    let pipelines = Resource::new(move || pipelines_changed.get(), |_| list_pipelines());
    let batches = Resource::new(|| (), |_| list_batches());
    let prices = crate::billing::load_prices();
    // Photos chosen elsewhere (the gallery's "Run a batch on the ticked items") arrive as
    // `?photos=id,id`.
    let query = use_query_map();
    let selected = RwSignal::new(
        query
            .read_untracked()
            .get("photos")
            .map(|list| list.split(',').filter_map(|id| id.parse::<PhotoId>().ok()).collect::<Vec<_>>())
            .unwrap_or_default(),
    );
    let choice = RwSignal::new(None::<PipelineChoice>);
    let save_to_gallery = RwSignal::new(true);
    let navigate = use_navigate();
    let run = Action::new(move |(choice, photos, save): &(PipelineChoice, Vec<PhotoId>, bool)| {
        let (choice, photos, save) = (choice.clone(), photos.clone(), *save);
        async move { run_batch(choice, photos, save, false).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(batch)) = run.value().get() {
            navigate(&format!("/batch/{}", batch.id), Default::default());
        }
    });
    let delete = Action::new(move |id: &crate::ids::PipelineId| {
        let id = *id;
        async move {
            let deleted = delete_pipeline(id).await;
            pipelines_changed.update(|n| *n += 1);
            deleted
        }
    });
    view! {
        <section class="batch">
            <h1>"Batch"</h1>
            <p class="hint">"Run one pipeline — edits, AI tools, a product scene, an export — over many photos at once. Items run on the server's workers; you can leave this page and come back."</p>

            <h2>"1. Photos"</h2>
            // Photos dropped here join the selection: a folder goes straight into the batch.
            <Dropzone on_uploaded=move |id| {
                uploaded.update(|n| *n += 1);
                selected.update(|s| if !s.contains(&id) { s.push(id) });
            }/>
            <Transition fallback=|| view! { <p>"Loading photos…"</p> }>
                {move || Suspend::new(async move { match photos.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No photos yet: drop some above."</p> }.into_any(),
                    Ok(list) => {
                        let all: Vec<PhotoId> = list.iter().filter(|p| !p.held).map(|p| p.id).collect();
                        view! {
                            <p class="batch-select">
                                <button type="button" on:click=move |_| selected.set(all.clone())>"Select all"</button>
                                <button type="button" on:click=move |_| selected.set(Vec::new())>"Select none"</button>
                                <span role="status">{move || format!("{} selected", selected.get().len())}</span>
                            </p>
                            <ul class="grid photos batch-photos">
                                {list.into_iter().filter(|p| !p.held).map(|photo| {
                                    let id = photo.id;
                                    view! {
                                        <li class="card">
                                            <label>
                                                <img src=photo.thumbnail_url.clone() alt="" loading="lazy"/>
                                                <input type="checkbox" name="photo" value=id.to_string()
                                                    prop:checked=move || selected.get().contains(&id)
                                                    on:change=move |ev| {
                                                        let on = event_target_checked(&ev);
                                                        selected.update(|s| { s.retain(|p| *p != id); if on { s.push(id); } });
                                                    }/>
                                                " " {photo.name.clone()}
                                            </label>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                } })}
            </Transition>

            <h2>"2. Pipeline"</h2>
            <Transition fallback=|| view! { <p>"Loading pipelines…"</p> }>
                {move || Suspend::new(async move { match pipelines.await {
                    Ok(list) => view! {
                        <ul class="pipelines">
                            {list.into_iter().map(|view| {
                                let this = view.choice.clone();
                                let chosen = this.clone();
                                let saved = match &view.choice { PipelineChoice::Saved { id } => Some(*id), _ => None };
                                view! {
                                    <li class="pipeline">
                                        <label>
                                            <input type="radio" name="pipeline" prop:checked=move || choice.get().as_ref() == Some(&this)
                                                on:change=move |_| choice.set(Some(chosen.clone()))/>
                                            " " <strong>{view.pipeline.name.clone()}</strong>
                                            {view.ready.then(|| view! { " " <span class="badge">"ready"</span> })}
                                        </label>
                                        <ol class="steps">
                                            {view.pipeline.steps.iter().map(|step| view! { <li>{step.label()}</li> }).collect_view()}
                                        </ol>
                                        <crate::billing::PipelineCost tools=view.pipeline.tools().map(|kind| kind.name().to_string()).collect() prices/>
                                        {saved.map(|id| view! {
                                            <button type="button" class="danger" on:click=move |_| { delete.dispatch(id); }>"Delete"</button>
                                        })}
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                } })}
            </Transition>
            <details class="builder">
                <summary>"Build your own pipeline…"</summary>
                {view! { <PipelineBuilder selected on_saved=move || pipelines_changed.update(|n| *n += 1)/> }.into_any()}
            </details>

            <h2>"3. Run"</h2>
            <label><input type="checkbox" prop:checked=save_to_gallery on:change=move |ev| save_to_gallery.set(event_target_checked(&ev))/>
                " Save the results to the gallery (as versions of their originals); otherwise they are kept 24 hours, to download"</label>
            <p>
                <button type="button" class="primary" disabled=move || selected.get().is_empty() || choice.get().is_none() || run.pending().get()
                    on:click=move |_| {
                        if let Some(chosen) = choice.get() {
                            run.dispatch((chosen, selected.get(), save_to_gallery.get()));
                        }
                    }>
                    {move || match selected.get().len() {
                        1 => "Run on 1 photo".to_string(),
                        n => format!("Run on {n} photos"),
                    }}
                </button>
            </p>
            {move || match run.value().get() {
                Some(Err(error)) => Some(view! { <ErrorNote error/> }),
                _ => None,
            }}

            <h2>"Your batches"</h2>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move { match batches.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"None yet."</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="batches">
                            {list.into_iter().map(|batch| view! {
                                <li><a href=format!("/batch/{}", batch.id)>{batch.name.clone()}</a>
                                    " — " {batch.counts.summary()} " · " {crate::ui::when(batch.created_at)}</li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(error) => view! { <ErrorNote error/> }.into_any(),
                } })}
            </Transition>
        </section>
    }
    .into_any()
}

/// Picks steps and their settings, previews the pipeline on the first selected photo, and saves
/// it under a name.
#[component]
fn PipelineBuilder(
    selected: RwSignal<Vec<PhotoId>>,
    on_saved: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let steps = RwSignal::new(Vec::<Step>::new());
    let kind = RwSignal::new("edit".to_string());
    // The draft step's settings.
    let (contrast, saturation, brightness, sharpen) =
        (RwSignal::new(0i16), RwSignal::new(0i16), RwSignal::new(0i16), RwSignal::new(true));
    let cut_out_white = RwSignal::new(false);
    let factor = RwSignal::new(2u32);
    let scene = RwSignal::new(Scene::default());
    let export = RwSignal::new(ExportSettings::default());
    let photos = Resource::new(|| (), |_| list_photos());
    let services = Resource::new(|| (), |_| crate::generate::api::open_studio());
    let pipeline = move || Pipeline { name: name.get(), steps: steps.get() };
    let add = move |_| {
        let step = match kind.get().as_str() {
            "cut-out" => Step::Tool {
                request: ToolRequest::RemoveBackground {
                    portrait: false,
                    backdrop: if cut_out_white.get() {
                        Backdrop::Colour { hex: "#ffffff".into() }
                    } else {
                        Backdrop::Transparent
                    },
                    refine: true,
                    feather: 0.0,
                },
            },
            "upscale" => {
                Step::Tool { request: ToolRequest::Upscale { factor: factor.get(), quality: UpscaleQuality::Balanced } }
            }
            "scene" => Step::Tool { request: ToolRequest::ProductScene { scene: scene.get() } },
            "describe" => Step::Tool { request: ToolRequest::Describe },
            "export" => Step::Export { settings: export.get() },
            _ => {
                let mut ops = Vec::new();
                for (amount, op) in [
                    (brightness.get(), EditOp::Brightness { amount: brightness.get() }),
                    (contrast.get(), EditOp::Contrast { amount: contrast.get() }),
                    (saturation.get(), EditOp::Saturation { amount: saturation.get() }),
                ] {
                    if amount != 0 {
                        ops.push(op);
                    }
                }
                if sharpen.get() {
                    ops.push(EditOp::Sharpen);
                }
                Step::Edit { recipe: EditRecipe { ops } }
            }
        };
        steps.update(|s| {
            if s.len() < MAX_PIPELINE_STEPS {
                s.push(step)
            }
        });
    };
    let problem = move || {
        let p = pipeline();
        let named = if p.name.trim().is_empty() { Pipeline { name: "unnamed".into(), ..p } } else { p };
        named.validate().err()
    };
    let preview = Action::new(move |(pipeline, photo): &(Pipeline, PhotoId)| {
        let (pipeline, photo) = (pipeline.clone(), *photo);
        async move { run_batch(PipelineChoice::Unsaved { pipeline }, vec![photo], false, true).await }
    });
    let save = Action::new(move |pipeline: &Pipeline| {
        let pipeline = pipeline.clone();
        async move { save_pipeline(pipeline).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            on_saved();
        }
    });
    let slider = move |label: &'static str, signal: RwSignal<i16>| {
        view! {
            <label>{label} " "
                <input type="range" min="-100" max="100" step="1" aria-label=label prop:value=move || signal.get().to_string()
                    on:input=move |ev| signal.set(event_target_value(&ev).parse().unwrap_or(0))/>
            </label>
        }
    };
    view! {
        <div class="pipeline-builder">
            <label>"Name " <input type="text" maxlength="80" aria-label="Pipeline name" prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/></label>
            <ol class="steps">
                {move || steps.get().into_iter().enumerate().map(|(index, step)| view! {
                    <li>{step.label()} " "
                        <button type="button" class="link" aria-label="Move up" disabled=index == 0
                            on:click=move |_| steps.update(|s| s.swap(index - 1, index))>"↑"</button>
                        <button type="button" class="link" aria-label="Remove step" on:click=move |_| steps.update(|s| { s.remove(index); })>"✕"</button>
                    </li>
                }).collect_view()}
            </ol>
            <fieldset>
                <legend>"Add a step"</legend>
                <select aria-label="Step" on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="edit">"Edit (adjust and sharpen)"</option>
                    <option value="cut-out">"Remove background"</option>
                    <option value="scene">"Product scene"</option>
                    <option value="upscale">"Upscale"</option>
                    <option value="describe">"Tags and alt-text"</option>
                    <option value="export">"Export"</option>
                </select>
                <Show when=move || kind.get() == "edit">
                    {view! {
                        {slider("Brightness", brightness)} {slider("Contrast", contrast)} {slider("Saturation", saturation)}
                        <label><input type="checkbox" prop:checked=sharpen on:change=move |ev| sharpen.set(event_target_checked(&ev))/>" Sharpen"</label>
                    }.into_any()}
                </Show>
                <Show when=move || kind.get() == "cut-out">
                    <label><input type="checkbox" prop:checked=cut_out_white on:change=move |ev| cut_out_white.set(event_target_checked(&ev))/>" On white instead of transparent"</label>
                </Show>
                <Show when=move || kind.get() == "upscale">
                    <select aria-label="Factor" on:change=move |ev| factor.set(event_target_value(&ev).parse().unwrap_or(2))>
                        <option value="2">"x2"</option>
                        <option value="4">"x4"</option>
                    </select>
                </Show>
                <Show when=move || kind.get() == "scene">
                    {view! { <SceneFields scene photos services/> }.into_any()}
                </Show>
                <Show when=move || kind.get() == "export">
                    {view! { <ExportStepFields export/> }.into_any()}
                </Show>
                <button type="button" on:click=add>"Add step"</button>
            </fieldset>
            {move || problem().map(|why| view! { <p class="hint" role="status">{why}</p> })}
            <p>
                <button type="button" disabled=move || problem().is_some() || selected.get().is_empty() || preview.pending().get()
                    on:click=move |_| {
                        if let Some(first) = selected.get().first().copied() {
                            let mut draft = pipeline();
                            if draft.name.trim().is_empty() { draft.name = "Draft".into(); }
                            preview.dispatch((draft, first));
                        }
                    }>"Preview on the first selected photo"</button>
                " "
                <button type="button" disabled=move || problem().is_some() || name.get().trim().is_empty() || save.pending().get()
                    on:click=move |_| { save.dispatch(pipeline()); }>"Save pipeline"</button>
            </p>
            {move || match save.value().get() {
                Some(Ok(saved)) => Some(view! { <p class="notice" role="status">{format!("Saved “{}”.", saved.pipeline.name)}</p> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
                None => None,
            }}
            {move || match preview.value().get() {
                Some(Ok(batch)) => Some(view! { <BatchProgress id=batch.id/> }.into_any()),
                Some(Err(error)) => Some(view! { <ErrorNote error/> }.into_any()),
                None => None,
            }}
        </div>
    }
    .into_any()
}

/// An export step's settings: a preset, or a format with its quality, size and weight.
#[component]
fn ExportStepFields(export: RwSignal<ExportSettings>) -> impl IntoView {
    view! {
        <label>"Preset "
            <select aria-label="Export preset" on:change=move |ev| {
                let id = event_target_value(&ev);
                export.update(|s| s.preset = (!id.is_empty()).then_some(id));
            }>
                <option value="">"None: choose below"</option>
                {PRESETS.iter().map(|p| view! { <option value=p.id>{p.name}</option> }).collect_view()}
            </select>
        </label>
        <label>"Format "
            <select aria-label="Export format" on:change=move |ev| {
                let format = ExportFormat::from_id(&event_target_value(&ev)).unwrap_or_default();
                export.update(|s| s.format = format);
            }>
                {ExportFormat::ALL.into_iter().map(|f| view! { <option value=f.id()>{f.label()}</option> }).collect_view()}
            </select>
        </label>
        <label>"Quality "
            <input type="number" min="1" max="100" aria-label="Export quality" prop:value=move || export.get().quality.to_string()
                on:input=move |ev| { let q = event_target_value(&ev).parse().unwrap_or(82); export.update(|s| s.quality = q); }/></label>
        <label>"Longest side "
            <input type="number" min="1" max="16384" aria-label="Longest side" placeholder="as it is"
                on:input=move |ev| { let side = event_target_value(&ev).parse().ok(); export.update(|s| s.max_side = side); }/></label>
        <label>"At most (KB) "
            <input type="number" min="1" aria-label="Most kilobytes" placeholder="any"
                on:input=move |ev| { let kb = event_target_value(&ev).parse().ok(); export.update(|s| s.target_kb = kb); }/></label>
    }
    .into_any()
}

#[component]
pub fn BatchPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<BatchId>().ok());
    view! {
        {move || match id() {
            Some(id) => view! { <section class="batch"><BatchProgress id/></section> }.into_any(),
            None => view! { <NotFound/> }.into_any(),
        }}
    }
}

/// A batch's live progress: the overall bar with done, failed and left and the time left, a row
/// per photo with its step, and pause, resume, cancel, retry and the results' zip.
#[component]
fn BatchProgress(id: BatchId) -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let control = Action::new(move |action: &BatchAction| {
        let action = *action;
        async move { control_batch(id, action).await }
    });
    let detail = Resource::new(move || (tick.get(), control.version().get()), move |_| get_batch(id));
    // While items are left, ask again every second; a failed answer again after three.
    Effect::new(move |_| {
        let wait = match detail.get() {
            Some(Ok(detail)) if !detail.summary.counts.finished() => Some(1000),
            Some(Err(_)) => Some(3000),
            _ => None,
        };
        crate::ui::ask_again(tick, wait);
    });
    view! {
        <Transition fallback=|| view! { <p>"Loading the batch…"</p> }>
            {move || Suspend::new(async move { match detail.await {
                Ok(detail) => view! { <BatchView detail control/> }.into_any(),
                Err(AppError::NotFound) => view! { <NotFound/> }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            } })}
        </Transition>
        {move || match control.value().get() {
            Some(Err(error)) => Some(view! { <ErrorNote error/> }),
            _ => None,
        }}
    }
    .into_any()
}

#[component]
fn BatchView(
    detail: BatchDetail,
    control: Action<BatchAction, Result<crate::batch::BatchSummary, AppError>>,
) -> impl IntoView {
    let BatchDetail { summary, items } = detail;
    let counts = summary.counts;
    let eta = summary.eta_secs.map(|secs| match secs {
        0..=59 => format!("about {secs} s left"),
        60..=3599 => format!("about {} min left", secs.div_ceil(60)),
        _ => format!("about {} h {} min left", secs / 3600, (secs % 3600) / 60),
    });
    let finished = counts.finished();
    let button = move |label: &'static str, action: BatchAction| {
        view! { <button type="button" on:click=move |_| { control.dispatch(action); }>{label}</button> }
    };
    view! {
        <h1>{summary.name.clone()}</h1>
        <ol class="steps">{summary.steps.iter().map(|s| view! { <li>{s.clone()}</li> }).collect_view()}</ol>
        <div class="batch-progress" data-finished=finished.to_string()>
            <progress max=counts.total.to_string() value=(counts.done + counts.failed + counts.cancelled).to_string()
                aria-label="Batch progress"></progress>
            <p class="batch-summary" role="status">
                {counts.summary()}
                {summary.paused.then_some(" · paused")}
                {eta.map(|eta| format!(" · {eta}"))}
                {finished.then_some(" · finished")}
            </p>
        </div>
        <p class="batch-controls">
            {(!finished && !summary.paused).then(|| button("Pause", BatchAction::Pause))}
            {(!finished && summary.paused).then(|| button("Resume", BatchAction::Resume))}
            {(!finished).then(|| button("Cancel", BatchAction::Cancel))}
            {(counts.failed + counts.cancelled > 0).then(|| button("Retry failed", BatchAction::Retry))}
            {(counts.done > 0).then(|| view! {
                <a class="button" href=summary.zip_url.clone() download="atelier-batch.zip">
                    {if finished { "Download the zip" } else { "Download the zip (done so far)" }}
                </a>
            })}
            {summary.save_to_gallery.then(|| view! { <a href="/gallery">"Open the gallery"</a> })}
        </p>
        <table class="batch-items">
            <thead><tr><th>"Photo"</th><th>"State"</th><th>"Step"</th><th>"Result"</th></tr></thead>
            <tbody>
                {items.into_iter().map(|item| {
                    let state = item.state;
                    view! {
                        <tr class=format!("batch-item {}", state.as_str())>
                            <td>{item.name.clone()}</td>
                            <td>{state.as_str()}
                                {(state == JobState::Running).then(|| view! {
                                    " " <progress max="1" value=item.progress.to_string() aria-label="Item progress"></progress>
                                })}
                            </td>
                            <td>{item.error.clone().or(item.step.clone()).unwrap_or_default()}</td>
                            <td>{item.result_url.clone().map(|url| view! {
                                <a href=url target="_blank" rel="external">
                                    {match item.thumbnail_url.clone() {
                                        Some(thumb) => view! { <img src=thumb alt=format!("Result for {}", item.name) class="batch-thumb"/> }.into_any(),
                                        None => view! { "Open" }.into_any(),
                                    }}
                                </a>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}
