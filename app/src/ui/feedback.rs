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
