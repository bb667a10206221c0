//! Atelier as the user and API clients see it: pages, components, server-function contracts and
//! the edit recipe. `server/` keeps the contracts; `frontend/` hydrates these pages.

pub mod account_pages;
pub mod ai;
pub mod ai_panel;
pub mod api;
pub mod auth;
#[cfg(feature = "hydrate")]
pub mod browser;
pub mod components;
pub mod consent;
pub mod data;
pub mod data_pages;
pub mod editor;
pub mod error;
pub mod model;
pub mod pages;
pub mod privacy;
/// The edit recipe lives in its own crate so the page's bundle can leave its pixel code out.
pub use ::recipe;
#[cfg(feature = "ssr")]
pub mod services;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

use crate::account_pages::{AccountMenu, AccountPage, AdminPage, ResetPage, SignInPage, SignUpPage, VerifyPage};
use crate::pages::{EditorPage, GalleryPage, NotFound, WorkspacePage};
use crate::privacy::{ConsentBanner, CookiePolicyPage, PrivacyPage};

/// The theme the visitor chose, read only when they allowed preference cookies.
fn theme() -> &'static str {
    #[cfg(feature = "ssr")]
    {
        use crate::consent::{cookie_value, ConsentCookie, CONSENT_COOKIE, THEME_COOKIE};
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
fn ThemeForm() -> impl IntoView {
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
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Marks the page as interactive, so people (and tests) can tell hydration has finished.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/atelier.css"/>
        <Title text="Atelier"/>
        <Router>
            <header class="topbar">
                <A href="/" attr:class="brand">"Atelier"</A>
                <nav>
                    <A href="/">"Workspace"</A>
                    <A href="/gallery">"Gallery"</A>
                </nav>
                <AccountMenu/>
            </header>
            <ConsentBanner/>
            <main>
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=WorkspacePage/>
                    <Route path=path!("/gallery") view=GalleryPage/>
                    // Async so an unknown or foreign photo answers with a real 404 status.
                    <Route path=path!("/photos/:id") view=EditorPage ssr=SsrMode::Async/>
                    <Route path=path!("/privacy") view=PrivacyPage/>
                    <Route path=path!("/cookies") view=CookiePolicyPage/>
                    <Route path=path!("/signin") view=SignInPage/>
                    <Route path=path!("/signup") view=SignUpPage/>
                    <Route path=path!("/verify") view=VerifyPage/>
                    <Route path=path!("/reset") view=ResetPage/>
                    <Route path=path!("/account") view=AccountPage/>
                    // Async so that anyone but an admin gets a real 404 status.
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async/>
                </Routes>
            </main>
            <footer class="footer">
                <span>"Your photos stay on this server, visible only to you."</span>
                <nav aria-label="Privacy">
                    <a href="/privacy">"Privacy"</a>
                    <a href="/cookies">"Cookie policy"</a>
                    <a href="/cookies#settings">"Cookie settings"</a>
                </nav>
                <ThemeForm/>
            </footer>
        </Router>
    }
}
