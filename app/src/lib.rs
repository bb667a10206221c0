//! Atelier as the user and API clients see it: pages, components, server-function contracts and
//! the edit recipe. `server/` keeps the contracts; `frontend/` hydrates these pages.

pub mod account_pages;
pub mod api;
pub mod auth;
#[cfg(feature = "hydrate")]
pub mod browser;
pub mod components;
pub mod editor;
pub mod error;
pub mod model;
pub mod pages;
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

pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
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
            <main>
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=WorkspacePage/>
                    <Route path=path!("/gallery") view=GalleryPage/>
                    // Async so an unknown or foreign photo answers with a real 404 status.
                    <Route path=path!("/photos/:id") view=EditorPage ssr=SsrMode::Async/>
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
                "Your photos stay on this server, visible only to you."
            </footer>
        </Router>
    }
}
