//! The document around every page (theme, scripts, meta) and the pieces every page shares:
//! the theme switch and the 404 page.

use leptos::prelude::*;
use leptos_meta::MetaTags;

use crate::App;

/// The theme the visitor chose, read only when they allowed preference cookies.
fn theme() -> &'static str {
    #[cfg(feature = "ssr")]
    {
        use crate::privacy::{cookie_value, ConsentCookie, CONSENT_COOKIE, THEME_COOKIE};
        let cookies = use_context::<http::request::Parts>()
            .and_then(|parts| parts.headers.get(http::header::COOKIE).and_then(|v| v.to_str().ok()).map(str::to_string))
            .unwrap_or_default();
        let allowed = cookie_value(&cookies, CONSENT_COOKIE)
            .and_then(|v| ConsentCookie::parse(&v))
            .is_some_and(|c| c.choices.allows_cookie(THEME_COOKIE));
        if allowed && cookie_value(&cookies, THEME_COOKIE).as_deref() == Some("dark") {
            return "dark";
        }
    }
    "light"
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.ico"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Light or dark; remembered only with permission for preference cookies.
#[component]
pub fn ThemeForm() -> impl IntoView {
    let location = leptos_router::hooks::use_location();
    view! {
        <form method="post" action="/preferences/theme" class="inline theme-form">
            <input type="hidden" name="return_to" value=move || location.pathname.get()/>
            <button type="submit" class="link" name="theme" value="light">"Light"</button>
            " / "
            <button type="submit" class="link" name="theme" value="dark">"Dark"</button>
        </form>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http_not_found());
    }
    view! {
        <section class="not-found">
            <h1>"Not found"</h1>
            <p>"There is nothing here, or it is not yours to see."</p>
            <a href="/">"Back to the workspace"</a>
        </section>
    }
}

#[cfg(feature = "ssr")]
fn http_not_found() -> http::StatusCode {
    http::StatusCode::NOT_FOUND
}
