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

/// Whether a picked file looks like a photo: a folder holds other files too (`.DS_Store`,
/// sidecars), which are listed as skipped rather than sent.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
fn looks_like_photo(name: &str, mime: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    mime.starts_with("image/")
        || [".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".avif"].iter().any(|ext| lower.ends_with(ext))
}

/// Drag-and-drop area, file picker and folder picker; uploads every chosen photo at once, each
/// with its own progress bar, and calls `on_uploaded` with each stored photo's id.
#[component]
pub fn Dropzone(#[prop(into)] on_uploaded: Callback<crate::ids::PhotoId>) -> impl IntoView {
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
        let (items, skipped): (Vec<_>, Vec<_>) =
            items.into_iter().partition(|(file, _)| looks_like_photo(&file.name(), &file.type_()));
        for (_, item) in skipped {
            item.state.set(UploadState::Failed("Not a photo: skipped.".into()));
        }
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
                        Ok(photo) => {
                            progress.set(100.0);
                            state.set(UploadState::Done);
                            on_uploaded.run(photo.id);
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
            <label class="button">
                "Choose a folder…"
                // Every photo in the folder and its subfolders (a browser property: needs the script).
                <input type="file" class="visually-hidden" name="folder" multiple prop:webkitdirectory=true on:change=on_pick/>
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

#[cfg(test)]
mod tests {
    use super::looks_like_photo;

    #[test]
    fn folders_send_their_photos_only() {
        assert!(looks_like_photo("IMG_0001.HEIC", ""));
        assert!(looks_like_photo("scan", "image/png"));
        assert!(!looks_like_photo(".DS_Store", ""));
        assert!(!looks_like_photo("notes.txt", "text/plain"));
    }
}
