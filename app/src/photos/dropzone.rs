//! Reusable pieces of the pages.

use leptos::ev::DragEvent;
use leptos::prelude::*;

/// Largest upload the page announces; the server enforces its own configured limit.
pub const UPLOAD_HINT: &str = "JPEG, PNG, WebP, HEIC or AVIF. Many at once is fine.";

#[derive(Clone, Debug, PartialEq)]
// Only the browser moves past the first state.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum UploadState {
    Uploading,
    Done,
    Failed(String),
}

#[derive(Clone)]
struct UploadItem {
    key: usize,
    name: String,
    progress: RwSignal<f64>,
    state: RwSignal<UploadState>,
}

/// Drag-and-drop area and file picker; uploads every chosen file at once, each with its own
/// progress bar, and calls `on_uploaded` after each success.
#[component]
pub fn Dropzone(#[prop(into)] on_uploaded: Callback<()>) -> impl IntoView {
    let uploads = RwSignal::new(Vec::<UploadItem>::new());
    let dragging = RwSignal::new(false);
    // Uploads only start in the browser.
    #[cfg(not(feature = "hydrate"))]
    let _ = on_uploaded;

    #[cfg(feature = "hydrate")]
    let start = move |files: web_sys::FileList| {
        let first_key = uploads.with_untracked(|list| list.len());
        let items: Vec<(web_sys::File, UploadItem)> = (0..files.length())
            .filter_map(|index| files.item(index))
            .enumerate()
            .map(|(offset, file)| {
                let item = UploadItem {
                    key: first_key + offset,
                    name: file.name(),
                    progress: RwSignal::new(0.0),
                    state: RwSignal::new(UploadState::Uploading),
                };
                (file, item)
            })
            .collect();
        uploads.update(|list| list.extend(items.iter().map(|(_, item)| item.clone())));
        leptos::task::spawn_local(async move {
            if let Err(error) = crate::photos::api::open_workspace().await {
                for (_, item) in &items {
                    item.state.set(UploadState::Failed(error.to_string()));
                }
                return;
            }
            for (file, item) in items {
                let (progress, state) = (item.progress, item.state);
                let sent = crate::browser::upload(
                    &file,
                    move |percent| progress.set(percent),
                    move |outcome| match outcome {
                        Ok(_) => {
                            progress.set(100.0);
                            state.set(UploadState::Done);
                            on_uploaded.run(());
                        }
                        Err(message) => state.set(UploadState::Failed(message)),
                    },
                );
                if let Err(message) = sent {
                    state.set(UploadState::Failed(message));
                }
            }
        });
    };

    let on_drop = move |event: DragEvent| {
        event.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(files) = event.data_transfer().and_then(|transfer| transfer.files()) {
            start(files);
        }
    };
    let on_pick = move |_event: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let input: Option<web_sys::HtmlInputElement> = _event.target().and_then(|target| target.dyn_into().ok());
            if let Some(input) = input {
                if let Some(files) = input.files() {
                    start(files);
                }
                input.set_value("");
            }
        }
    };

    view! {
        <div
            class="dropzone"
            class:dragging=move || dragging.get()
            on:dragover=move |event: DragEvent| {
                event.prevent_default();
                dragging.set(true);
            }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop
        >
            <p class="dropzone-title">"Drop photos here"</p>
            <label class="button">
                "Choose photos…"
                <input
                    type="file"
                    class="visually-hidden"
                    name="photos"
                    multiple
                    accept="image/jpeg,image/png,image/webp,image/heic,image/heif,image/avif,.heic,.heif,.avif"
                    on:change=on_pick
                />
            </label>
            <p class="hint">{UPLOAD_HINT}</p>
        </div>
        <ul class="uploads" aria-live="polite">
            <For each=move || uploads.get() key=|item| item.key let:item>
                <li class="upload" data-state=move || match item.state.get() {
                    UploadState::Uploading => "uploading",
                    UploadState::Done => "done",
                    UploadState::Failed(_) => "failed",
                }>
                    <span class="upload-name">{item.name.clone()}</span>
                    <progress max="100" value=move || item.progress.get()></progress>
                    <span class="upload-status">
                        {move || match item.state.get() {
                            UploadState::Uploading => format!("{:.0}%", item.progress.get()),
                            UploadState::Done => "Uploaded".to_string(),
                            UploadState::Failed(message) => message,
                        }}
                    </span>
                </li>
            </For>
        </ul>
    }
}
