//! A form per AI tool, for the panel: each gathers its tool's options into a `ToolRequest`.
//! `form` is the one place the panel learns a tool's form: a new `ToolKind` fails to compile
//! until it has one here.

use leptos::html;
use leptos::prelude::*;

use crate::ai_tools::{
    AiJob, Backdrop, CastShadow, FaceBlur, Scene, SceneBackdrop, SelectionTools, StyleChoice, Surface, ToolKind,
    ToolRequest, UpscaleQuality, BUILTIN_STYLES,
};
use crate::error::AppError;
use crate::photos::PhotoSummary;

/// The longest side of the mask canvas; the server scales the mask to the photo.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
const MASK_MAX_SIDE: u32 = 1024;

pub type Start = Action<ToolRequest, Result<AiJob, AppError>>;

/// The image services the server offers (none unless configured), loaded once by the page.
pub type Services = Resource<Result<crate::generate::Studio, AppError>>;

/// The form of `kind`. `photos` are the visitor's photos (backdrops); `photo` the one edited.
pub fn form(
    kind: ToolKind,
    start: Start,
    photos: Resource<Result<Vec<PhotoSummary>, AppError>>,
    services: Services,
    photo: &PhotoSummary,
) -> AnyView {
    match kind {
        ToolKind::RemoveBackground => view! { <BackgroundTool start photos/> }.into_any(),
        ToolKind::Upscale => view! { <UpscaleTool start/> }.into_any(),
        ToolKind::Erase => view! { <EraserTool start services photo=photo.clone()/> }.into_any(),
        ToolKind::Describe => view! { <DescribeTool start/> }.into_any(),
        ToolKind::ProductScene => view! { <SceneTool start photos services/> }.into_any(),
        ToolKind::StyleTransfer => view! { <StyleTool start photos/> }.into_any(),
        ToolKind::BlurFaces => view! { <FacesTool start photo=photo.clone()/> }.into_any(),
        ToolKind::CopyText => view! { <CopyTextTool start/> }.into_any(),
    }
}

/// Blur faces: every face found, or the ones the person ticks after "Find faces", blurred or
/// pixelated, as strongly as the slider says (a share of each face's size).
#[component]
fn FacesTool(start: Start, photo: PhotoSummary) -> impl IntoView {
    let style = RwSignal::new(FaceBlur::Blur);
    let strength = RwSignal::new(60u8);
    // The faces are found on the photo scaled as the eraser's mask is: enough for BlazeFace.
    let scale = (MASK_MAX_SIDE as f32 / photo.width.max(photo.height).max(1) as f32).min(1.0);
    let (width, height) = ((photo.width as f32 * scale).max(1.0) as u32, (photo.height as f32 * scale).max(1.0) as u32);
    let id = photo.id;
    let find = Action::new(move |_: &()| async move {
        crate::ai_tools::select_area(id, crate::ai_tools::SelectRequest::Faces, width, height)
            .await
            .map(|found| found.objects)
    });
    let picked = RwSignal::new(Vec::<usize>::new());
    let thumbnail = photo.thumbnail_url.clone();
    let faces = move || find.value().get().and_then(Result::ok).unwrap_or_default();
    let choice = move |value: FaceBlur, label: &'static str| {
        view! {
            <label>
                <input type="radio" name="blur-faces-style" value=value.label()
                    prop:checked=move || style.get() == value on:change=move |_| style.set(value)/>
                {label}
            </label>
        }
    };
    view! {
        <fieldset class="ai-tool">
            <legend>{ToolKind::BlurFaces.label()}</legend>
            <fieldset>
                <legend>"Hide faces by"</legend>
                {choice(FaceBlur::Blur, " Blur")}
                {choice(FaceBlur::Pixelate, " Pixelate")}
            </fieldset>
            <label>"Strength "
                <input type="range" min="1" max="100" step="1" aria-label="Face blur strength" prop:value=move || strength.get().to_string()
                    on:input=move |ev| strength.set(event_target_value(&ev).parse().unwrap_or(60))/>
                " " {move || strength.get()}
            </label>
            <p class="hint">"Faces are found on this server; their positions are not kept."</p>
            <button type="button" on:click=move |_| {
                start.dispatch(ToolRequest::BlurFaces { style: style.get(), strength: strength.get(), faces: None });
            }>"Blur every face"</button>
            " "
            <button type="button" disabled=move || find.pending().get() on:click=move |_| {
                picked.set(Vec::new());
                find.dispatch(());
            }>"Find faces to pick…"</button>
            {move || match find.value().get() {
                Some(Err(error)) => Some(view! { <crate::ui::ErrorNote error/> }.into_any()),
                Some(Ok(found)) if found.is_empty() => Some(view! { <p role="status">"No face found."</p> }.into_any()),
                Some(Ok(found)) => {
                    let thumbnail = thumbnail.clone();
                    Some(view! {
                        <fieldset class="face-picks">
                            <legend>{match found.len() {
                                1 => "1 face found: tick it to hide it".to_string(),
                                n => format!("{n} faces found: tick the ones to hide"),
                            }}</legend>
                            {found.into_iter().enumerate().map(|(index, face)| {
                                let [x, y, w, h] = face.bbox;
                                // The thumbnail cropped to the face by CSS: no extra request.
                                let at = |start: f32, size: f32| if size < 1.0 { start / (1.0 - size) * 100.0 } else { 0.0 };
                                let crop = format!(
                                    "background-image: url('{thumbnail}'); background-size: {:.2}% {:.2}%; background-position: {:.2}% {:.2}%",
                                    100.0 / w, 100.0 / h, at(x, w), at(y, h)
                                );
                                view! {
                                    <label class="face-pick">
                                        <input type="checkbox" prop:checked=move || picked.with(|p| p.contains(&index))
                                            on:change=move |ev| {
                                                let on = event_target_checked(&ev);
                                                picked.update(|p| {
                                                    p.retain(|i| *i != index);
                                                    if on { p.push(index); }
                                                });
                                            }/>
                                        <span class="face-crop" style=crop aria-hidden="true"></span>
                                        {format!("Face {}", index + 1)}
                                    </label>
                                }
                            }).collect_view()}
                            <button type="button" disabled=move || picked.with(Vec::is_empty) on:click=move |_| {
                                let boxes: Vec<[f32; 4]> = picked.with(|p| p.iter().filter_map(|i| faces().get(*i).map(|f| f.bbox)).collect());
                                if !boxes.is_empty() {
                                    start.dispatch(ToolRequest::BlurFaces { style: style.get(), strength: strength.get(), faces: Some(boxes) });
                                }
                            }>{move || match picked.with(Vec::len) {
                                0 => "Blur the ticked faces".to_string(),
                                1 => "Blur the ticked face".to_string(),
                                n => format!("Blur the {n} ticked faces"),
                            }}</button>
                        </fieldset>
                    }.into_any())
                }
                None => None,
            }}
        </fieldset>
    }
    .into_any()
}

/// Style transfer: a built-in style picked by its thumbnail (the style on a sample photo, made
/// by the server), or another photo of the workspace as the painting; and how strongly.
#[component]
fn StyleTool(start: Start, photos: Resource<Result<Vec<PhotoSummary>, AppError>>) -> impl IntoView {
    // `None`: another photo is the painting.
    let builtin = RwSignal::new(Some(0u8));
    let painting = RwSignal::new(String::new());
    let strength = RwSignal::new(1.0f32);
    let message = RwSignal::new(None::<String>);
    let submit = move |_| {
        let style = match builtin.get() {
            Some(index) => StyleChoice::Builtin { index },
            None => match painting.get().parse() {
                Ok(id) => StyleChoice::Photo { id },
                Err(_) => {
                    message.set(Some("Choose the photo whose style to copy.".into()));
                    return;
                }
            },
        };
        message.set(None);
        start.dispatch(ToolRequest::StyleTransfer { style, strength: strength.get() });
    };
    view! {
        <fieldset class="ai-tool style-tool">
            <legend>{ToolKind::StyleTransfer.label()}</legend>
            // Closed until opened: its 26 thumbnails load only for someone choosing a style.
            <details class="style-picker-wrap">
            <summary>{move || match builtin.get() {
                Some(index) => format!("Style {index} — choose another…"),
                None => "Another photo as the painting — choose…".to_string(),
            }}</summary>
            <fieldset class="style-picker">
                <legend>"Style"</legend>
                {(0..BUILTIN_STYLES).map(|index| view! {
                    <label class="style-choice">
                        <input type="radio" name="style-transfer" value=index.to_string()
                            prop:checked=move || builtin.get() == Some(index) on:change=move |_| builtin.set(Some(index))/>
                        <img src=StyleChoice::preview_url(index) alt=format!("Style {index}, shown on a sample photo") width="64" height="64" loading="lazy"/>
                        <span aria-hidden="true">{index}</span>
                    </label>
                }).collect_view()}
                <label class="style-choice painting">
                    <input type="radio" name="style-transfer" value="photo"
                        prop:checked=move || builtin.get().is_none() on:change=move |_| builtin.set(None)/>
                    <span>"Another photo as the painting"</span>
                </label>
            </fieldset>
            </details>
            <Show when=move || builtin.get().is_none()>
                <label>"Painting "
                    <select aria-label="Painting" on:change=move |ev| painting.set(event_target_value(&ev))>
                        <option value="">"Choose…"</option>
                        <PhotoOptions photos/>
                    </select>
                </label>
            </Show>
            <label>"Strength "
                <input type="range" min="0" max="1" step="0.05" aria-label="Strength" prop:value=move || strength.get().to_string()
                    on:input=move |ev| strength.set(event_target_value(&ev).parse().unwrap_or(1.0))/>
                " " {move || format!("{:.0} %", strength.get() * 100.0)}
            </label>
            <button type="button" on:click=submit>"Apply the style"</button>
            {move || message.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
        </fieldset>
    }
    .into_any()
}

/// The product scene: one job per backdrop ticked (variants in one go).
#[component]
fn SceneTool(start: Start, photos: Resource<Result<Vec<PhotoSummary>, AppError>>, services: Services) -> impl IntoView {
    let scene = RwSignal::new(Scene::default());
    let variants = RwSignal::new(Vec::<Surface>::new());
    let submit = move |_| {
        let first = scene.get();
        for texture in variants.get() {
            let backdrop = SceneBackdrop::Surface { texture };
            start.dispatch(ToolRequest::ProductScene { scene: Scene { backdrop, ..first.clone() } });
        }
        start.dispatch(ToolRequest::ProductScene { scene: first });
    };
    view! {
        <fieldset class="ai-tool">
            <legend>{ToolKind::ProductScene.label()}</legend>
            <SceneFields scene photos services/>
            <fieldset class="variants">
                <legend>"Also make variants on"</legend>
                {Surface::ALL.into_iter().map(|texture| view! {
                    <label><input type="checkbox" on:change=move |ev| {
                        let on = event_target_checked(&ev);
                        variants.update(|v| { v.retain(|t| *t != texture); if on { v.push(texture); } });
                    }/>" " {texture.label()}</label>
                }).collect_view()}
            </fieldset>
            <button type="button" on:click=submit>"Make the scene"</button>
        </fieldset>
    }
    .into_any()
}

/// The workspace's photos as a select's options (a backdrop to pick).
#[component]
fn PhotoOptions(photos: Resource<Result<Vec<PhotoSummary>, AppError>>) -> impl IntoView {
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                photos.await.unwrap_or_default().into_iter().map(|p| view! { <option value=p.id.to_string()>{p.name}</option> }).collect_view()
            })}
        </Transition>
    }
}

/// The scene's settings, edited in place: the panel's scene tool and the pipeline builder's
/// scene step share them.
#[component]
pub fn SceneFields(
    scene: RwSignal<Scene>,
    photos: Resource<Result<Vec<PhotoSummary>, AppError>>,
    services: Services,
) -> impl IntoView {
    let kind = move || match scene.get().backdrop {
        SceneBackdrop::Colour { .. } => "colour",
        SceneBackdrop::Gradient { .. } => "gradient",
        SceneBackdrop::Studio { .. } => "studio",
        SceneBackdrop::Surface { .. } => "surface",
        SceneBackdrop::Photo { .. } => "photo",
        SceneBackdrop::Generated { .. } => "generated",
    };
    // Image services that can paint a backdrop from a prompt (none unless configured).
    let service_names = move || -> Vec<String> {
        services
            .get()
            .and_then(Result::ok)
            .map(|s| s.providers.into_iter().map(|p| p.name).collect())
            .unwrap_or_default()
    };
    let set_kind = move |value: String| {
        let backdrop = match value.as_str() {
            "gradient" => SceneBackdrop::Gradient { top: "#f4f1ec".into(), bottom: "#c9c2b8".into() },
            "studio" => SceneBackdrop::Studio { wall: "#e6e8ec".into(), floor: "#fafafa".into() },
            "surface" => SceneBackdrop::Surface { texture: Surface::Marble },
            "photo" => match photos.get().and_then(Result::ok).and_then(|p| p.first().map(|p| p.id)) {
                Some(id) => SceneBackdrop::Photo { id },
                None => SceneBackdrop::Colour { hex: "#ffffff".into() },
            },
            "generated" => match service_names().into_iter().next() {
                Some(provider) => SceneBackdrop::Generated {
                    painted: crate::ai_tools::ServicePrompt {
                        prompt: "a sunlit wooden table by a window, soft focus background".into(),
                        provider,
                    },
                },
                None => SceneBackdrop::Colour { hex: "#ffffff".into() },
            },
            _ => SceneBackdrop::Colour { hex: "#ffffff".into() },
        };
        // A sweep, a surface or a room has a floor to stand on; a flat colour centres.
        let on_floor = matches!(value.as_str(), "studio" | "surface" | "photo" | "generated");
        scene.update(|s| {
            s.backdrop = backdrop;
            s.on_floor = on_floor;
        });
    };
    let colour = move |index: usize| {
        move || match scene.get().backdrop {
            SceneBackdrop::Colour { hex } => hex,
            SceneBackdrop::Gradient { top, bottom } => {
                if index == 0 {
                    top
                } else {
                    bottom
                }
            }
            SceneBackdrop::Studio { wall, floor } => {
                if index == 0 {
                    wall
                } else {
                    floor
                }
            }
            _ => "#ffffff".into(),
        }
    };
    let set_colour = move |index: usize, hex: String| {
        scene.update(|s| match &mut s.backdrop {
            SceneBackdrop::Colour { hex: h } => *h = hex,
            SceneBackdrop::Gradient { top, bottom } | SceneBackdrop::Studio { wall: top, floor: bottom } => {
                if index == 0 {
                    *top = hex
                } else {
                    *bottom = hex
                }
            }
            _ => {}
        })
    };
    let number = |ev: &leptos::ev::Event| event_target_value(ev).parse::<f32>().unwrap_or(0.0);
    view! {
        <label>"Backdrop "
            <select aria-label="Backdrop" on:change=move |ev| set_kind(event_target_value(&ev))>
                <option value="colour" selected=move || kind() == "colour">"Colour"</option>
                <option value="gradient" selected=move || kind() == "gradient">"Gradient"</option>
                <option value="studio" selected=move || kind() == "studio">"Studio sweep"</option>
                <option value="surface" selected=move || kind() == "surface">"Surface"</option>
                <option value="photo" selected=move || kind() == "photo">"Another photo"</option>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        let any = services.await.is_ok_and(|s| !s.providers.is_empty());
                        any.then(|| view! { <option value="generated" selected=move || kind() == "generated">"Painted from a prompt"</option> })
                    })}
                </Transition>
            </select>
        </label>
        <Show when=move || kind() == "generated">
            <label>"Backdrop prompt "
                <input type="text" name="backdrop_prompt" maxlength="2000"
                    prop:value=move || match scene.get().backdrop { SceneBackdrop::Generated { painted } => painted.prompt, _ => String::new() }
                    on:input=move |ev| { let text = event_target_value(&ev); scene.update(|s| if let SceneBackdrop::Generated { painted } = &mut s.backdrop { painted.prompt = text; }); }/>
            </label>
            <label>"Image service "
                <select aria-label="Image service for the backdrop" on:change=move |ev| {
                    let name = event_target_value(&ev);
                    scene.update(|s| if let SceneBackdrop::Generated { painted } = &mut s.backdrop { painted.provider = name; });
                }>
                    {move || service_names().into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                </select>
            </label>
        </Show>
        <Show when=move || matches!(kind(), "colour" | "gradient" | "studio")>
            <label>{move || if kind() == "colour" { "Colour " } else { "Top " }}
                <input type="color" prop:value=colour(0) on:input=move |ev| set_colour(0, event_target_value(&ev))/></label>
        </Show>
        <Show when=move || matches!(kind(), "gradient" | "studio")>
            <label>"Bottom " <input type="color" prop:value=colour(1) on:input=move |ev| set_colour(1, event_target_value(&ev))/></label>
        </Show>
        <Show when=move || kind() == "surface">
            <label>"Surface "
                <select aria-label="Surface" on:change=move |ev| {
                    let texture = Surface::ALL.into_iter().find(|t| t.label() == event_target_value(&ev)).unwrap_or(Surface::Marble);
                    scene.update(|s| s.backdrop = SceneBackdrop::Surface { texture });
                }>
                    {Surface::ALL.into_iter().map(|t| view! { <option selected=move || scene.get().backdrop == SceneBackdrop::Surface { texture: t }>{t.label()}</option> }).collect_view()}
                </select>
            </label>
        </Show>
        <Show when=move || kind() == "photo">
            <label>"Photo "
                <select aria-label="Backdrop photo" on:change=move |ev| {
                    if let Ok(id) = event_target_value(&ev).parse() { scene.update(|s| s.backdrop = SceneBackdrop::Photo { id }); }
                }>
                    <PhotoOptions photos/>
                </select>
            </label>
        </Show>
        <label>"Size "
            <select aria-label="Scene size" on:change=move |ev| {
                let (width, height) = match event_target_value(&ev).as_str() {
                    "portrait" => (1600, 2000),
                    "landscape" => (1920, 1080),
                    _ => (2000, 2000),
                };
                scene.update(|s| { s.width = width; s.height = height; });
            }>
                <option value="square">"Square 2000 × 2000"</option>
                <option value="portrait">"Portrait 1600 × 2000"</option>
                <option value="landscape">"Landscape 1920 × 1080"</option>
            </select>
        </label>
        <label><input type="checkbox" prop:checked=move || scene.get().on_floor
            on:change=move |ev| { let on = event_target_checked(&ev); scene.update(|s| s.on_floor = on); }/>" Stand on the floor"</label>
        <label>"Contact shadow "
            <input type="range" min="0" max="1" step="0.05" aria-label="Contact shadow" prop:value=move || scene.get().contact_shadow.to_string()
                on:input=move |ev| { let v = number(&ev); scene.update(|s| s.contact_shadow = v); }/></label>
        <label><input type="checkbox" prop:checked=move || scene.get().cast_shadow.is_some() on:change=move |ev| {
            let on = event_target_checked(&ev);
            scene.update(|s| s.cast_shadow = on.then_some(CastShadow { angle: 35.0, length: 0.5, softness: 0.04, opacity: 0.35 }));
        }/>" Cast shadow"</label>
        <Show when=move || scene.get().cast_shadow.is_some()>
            <label>"Light from "
                <input type="range" min="-80" max="80" step="5" aria-label="Shadow angle"
                    prop:value=move || scene.get().cast_shadow.map(|c| c.angle).unwrap_or(35.0).to_string()
                    on:input=move |ev| { let v = number(&ev); scene.update(|s| if let Some(c) = &mut s.cast_shadow { c.angle = v; }); }/></label>
        </Show>
        <label>"Reflection "
            <input type="range" min="0" max="1" step="0.05" aria-label="Reflection" prop:value=move || scene.get().reflection.to_string()
                on:input=move |ev| { let v = number(&ev); scene.update(|s| s.reflection = v); }/></label>
        <label><input type="checkbox" prop:checked=move || { scene.get().match_light > 0.0 }
            on:change=move |ev| { let on = event_target_checked(&ev); scene.update(|s| s.match_light = if on { 0.6 } else { 0.0 }); }/>" Match the backdrop's light"</label>
    }
    .into_any()
}

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
            <legend>{ToolKind::RemoveBackground.label()}</legend>
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
                        <PhotoOptions photos/>
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
            <legend>{ToolKind::Upscale.label()}</legend>
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
                    "photo" => UpscaleQuality::Photo,
                    _ => UpscaleQuality::Fast,
                })>
                    <option value="fast">"Fast (ESRGAN slim)"</option>
                    <option value="balanced">"Balanced (ESRGAN medium)"</option>
                    <option value="best">"Best (ESRGAN thick, slow)"</option>
                    <option value="photo">"Photo (Real-ESRGAN: cleans noise and JPEG; slowest, minutes per megapixel)"</option>
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
            <legend>{ToolKind::Describe.label()}</legend>
            <p class="hint">"Objects, faces, colours and camera details become tags and a sentence you can edit."</p>
            <button type="button" on:click=move |_| { start.dispatch(ToolRequest::Describe); }>"Suggest tags and alt-text"</button>
        </fieldset>
    }
    .into_any()
}

/// Copy text: the text in the photo read line by line; the panel shows it to copy or keep as
/// alt-text, and it is kept with the photo for search.
#[component]
fn CopyTextTool(start: Start) -> impl IntoView {
    view! {
        <fieldset class="ai-tool">
            <legend>{ToolKind::CopyText.label()}</legend>
            <p class="hint">"Reads the text in the photo (signs, pages, labels) to copy or use as alt-text; search finds the photo by it."</p>
            <button type="button" on:click=move |_| { start.dispatch(ToolRequest::CopyText); }>"Read the text"</button>
        </fieldset>
    }
    .into_any()
}

/// Paint over what should disappear, then erase: the server fills it from the rest of the photo.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
#[component]
fn EraserTool(start: Start, services: Services, photo: PhotoSummary) -> impl IntoView {
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
    // Selections (subject, objects, magic wand) add to or take out of what is painted here.
    let selector = crate::ai_tools::Selector::new(canvas, photo.id, (width, height), brush);
    let paint = move |_event: leptos::ev::PointerEvent| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas.get() {
            let (x, y) = crate::browser::mask::position(&canvas, &_event);
            if let Err(error) = selector.brush_at(&canvas, x, y) {
                message.set(Some(error));
            }
        }
    };
    // Generative fill: offered when an image service that takes a mask is configured.
    let fill_prompt = RwSignal::new(String::new());
    let fill_service = RwSignal::new(None::<String>);
    let send = move |fill: Option<crate::ai_tools::ServicePrompt>| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas.get() {
            match crate::browser::mask::data_url(&canvas) {
                Ok(Some(mask)) => {
                    message.set(None);
                    start.dispatch(ToolRequest::Erase { mask, fill });
                }
                Ok(None) => message.set(Some(
                    if fill.is_some() {
                        "Paint over the part to paint anew first."
                    } else {
                        "Paint over what should be erased first."
                    }
                    .into(),
                )),
                Err(error) => message.set(Some(error)),
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = fill;
    };
    let erase = move |_| send(None);
    let fill = move |_| match fill_service.get() {
        Some(provider) if !fill_prompt.get().trim().is_empty() => {
            send(Some(crate::ai_tools::ServicePrompt { prompt: fill_prompt.get(), provider }))
        }
        _ => message.set(Some("Say what to paint there first.".into())),
    };
    let clear = move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(canvas) = canvas.get() {
            let _ = crate::browser::mask::clear(&canvas);
        }
    };
    view! {
        <fieldset class="ai-tool eraser">
            <legend>{ToolKind::Erase.label()}</legend>
            <p class="hint">"Paint over an object (or select it: see Select below), then erase it."</p>
            <div class="mask-stage">
                <img src=photo.original_url.clone() alt="" draggable="false"/>
                <canvas node_ref=canvas class="mask-canvas" width=width height=height aria-label="Eraser mask: paint here" tabindex="0"
                    on:keydown=move |event: leptos::ev::KeyboardEvent| selector.key_down(&event)
                    on:pointerdown=move |event: leptos::ev::PointerEvent| if !selector.pointer_down(&event) { painting.set(true); paint(event); }
                    on:pointermove=move |event: leptos::ev::PointerEvent| if painting.get_untracked() { paint(event); }
                    on:pointerup=move |_| painting.set(false)
                    on:pointerleave=move |_| painting.set(false)></canvas>
                {selector.marker()}
            </div>
            <label>"Brush "
                <input type="range" min="4" max="96" step="2" prop:value=move || brush.get().to_string()
                    on:input=move |ev| brush.set(event_target_value(&ev).parse().unwrap_or(24.0)) aria-label="Brush size"/>
            </label>
            <button type="button" on:click=clear>"Clear mask"</button>
            <button type="button" on:click=erase>"Erase"</button>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let fillers: Vec<String> = services.await.map(|s| s.providers).unwrap_or_default()
                        .into_iter().filter(|p| p.features.fill).map(|p| p.name).collect();
                    if fill_service.get_untracked().is_none() { fill_service.set(fillers.first().cloned()); }
                    (!fillers.is_empty()).then(|| view! {
                        <div class="generative-fill">
                            <label>"Or paint it anew: "
                                <input type="text" name="fill_prompt" maxlength="2000" placeholder="what should be there"
                                    prop:value=fill_prompt on:input=move |ev| fill_prompt.set(event_target_value(&ev))/>
                            </label>
                            <select name="fill_service" aria-label="Image service" on:change=move |ev| fill_service.set(Some(event_target_value(&ev)))>
                                {fillers.into_iter().map(|name| view! { <option value=name.clone()>{name.clone()}</option> }).collect_view()}
                            </select>
                            <button type="button" on:click=fill>"Generative fill"</button>
                        </div>
                    })
                })}
            </Transition>
            {move || message.get().map(|m| view! { <p class="error" role="alert">{m}</p> })}
            <SelectionTools selector/>
        </fieldset>
    }
    .into_any()
}
