//! How the pages tell the outcome of an action: an error note, and a full reload where every
//! part of the page must see a change.

use leptos::prelude::*;

use crate::error::AppError;

/// After signing in or out every part of the page must see it: load `path` afresh.
pub fn reload_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Bumps `tick` after `after_ms`, when given: a resource keyed on it asks the server again. Pages
/// that follow work on the server (jobs, batches) poll this way while something is unfinished.
pub fn ask_again(tick: RwSignal<u32>, after_ms: Option<u64>) {
    #[cfg(feature = "hydrate")]
    if let Some(ms) = after_ms {
        set_timeout(move || tick.update(|n| *n += 1), std::time::Duration::from_millis(ms));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (tick, after_ms);
}

/// Shows an action's error, if its last run failed.
pub fn action_error<S>(action: ServerAction<S>) -> impl IntoView
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    move || match action.value().get() {
        Some(Err(error)) => Some(view! { <ErrorNote error/> }),
        _ => None,
    }
}

/// An error as the pages show it: announced to screen readers, in the person's words.
#[component]
pub fn ErrorNote(error: AppError) -> impl IntoView {
    view! { <p class="error" role="alert">{error.to_string()}</p> }
}

/// Puts `text` on the clipboard (the browser allows it on https and localhost); `done` hears
/// whether it worked.
pub fn copy_to_clipboard(text: String, done: RwSignal<Option<bool>>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let field = |object: &wasm_bindgen::JsValue, key: &str| js_sys::Reflect::get(object, &key.into()).ok();
        let navigator = field(&window().into(), "navigator");
        let clipboard =
            navigator.as_ref().and_then(|navigator| field(navigator, "clipboard")).filter(|c| c.is_object());
        let promise = clipboard.and_then(|clipboard| {
            let write: js_sys::Function = field(&clipboard, "writeText")?.dyn_into().ok()?;
            write.call1(&clipboard, &text.into()).ok()?.dyn_into::<js_sys::Promise>().ok()
        });
        match promise {
            Some(promise) => leptos::task::spawn_local(async move {
                done.set(Some(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()));
            }),
            None => done.set(Some(false)),
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (text, done);
}
