//! Atelier as the user and API clients see it, one folder per feature: each holds its model
//! (what crosses the wire), its server functions (`api`), the contract the server keeps
//! (`service`, server only) and its pages. `server/` has a folder of the same name that keeps the
//! contract; `frontend/` hydrates these pages.

pub mod accounts;
pub mod admin;
pub mod ai_tools;
pub mod batch;
pub mod billing;
#[cfg(feature = "hydrate")]
pub mod browser;
pub mod data;
pub mod developer;
pub mod duplicates;
pub mod error;
pub mod generate;
pub mod ids;
pub mod optimize;
pub mod people;
pub mod photos;
pub mod privacy;
pub mod search;
/// The edit recipe lives in its own crate so the page's bundle can leave its pixel code out.
pub use ::recipe;
#[cfg(feature = "ssr")]
pub mod server_fn;
pub mod shell;
pub mod ui;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, SsrMode};

use crate::accounts::{AccountMenu, AccountPage, ResetPage, SignInPage, SignUpPage, VerifyPage};
use crate::admin::AdminPage;
use crate::batch::{BatchPage, BatchesPage};
use crate::generate::StudioPage;
use crate::people::{PeoplePage, PersonPage};
use crate::photos::{EditorPage, GalleryPage, WorkspacePage};
use crate::privacy::{ConsentBanner, CookiePolicyPage, PrivacyPage};
pub use crate::shell::shell;
use crate::shell::{NotFound, ThemeForm};

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
                    <A href="/batch">"Batch"</A>
                    <A href="/studio">"Studio"</A>
                    <A href="/people">"People"</A>
                </nav>
                <AccountMenu/>
            </header>
            <ConsentBanner/>
            <main>
                <Routes fallback=|| view! { <NotFound/> }>
                    // In order: every part of a page arrives in place, so it reads and its forms
                    // work before (and without) hydration; out-of-order parts need a script.
                    <Route path=path!("/") view=WorkspacePage ssr=SsrMode::InOrder/>
                    <Route path=path!("/gallery") view=GalleryPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/batch") view=BatchesPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/studio") view=StudioPage ssr=SsrMode::InOrder/>
                    // Async so an unknown or foreign batch answers with a real 404 status.
                    <Route path=path!("/batch/:id") view=BatchPage ssr=SsrMode::Async/>
                    // Async so an unknown or foreign photo answers with a real 404 status.
                    <Route path=path!("/photos/:id") view=EditorPage ssr=SsrMode::Async/>
                    <Route path=path!("/people") view=PeoplePage ssr=SsrMode::InOrder/>
                    // Async so an unknown or foreign person answers with a real 404 status.
                    <Route path=path!("/people/:id") view=PersonPage ssr=SsrMode::Async/>
                    <Route path=path!("/privacy") view=PrivacyPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/cookies") view=CookiePolicyPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/billing/success") view=crate::billing::checkout::PurchaseSuccessPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/signin") view=SignInPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/signin/code") view=crate::accounts::SignInCodePage ssr=SsrMode::InOrder/>
                    <Route path=path!("/signup") view=SignUpPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/verify") view=VerifyPage ssr=SsrMode::InOrder/>
                    <Route path=path!("/account/email") view=crate::accounts::EmailChangePage ssr=SsrMode::InOrder/>
                    <Route path=path!("/reset") view=ResetPage ssr=SsrMode::InOrder/>
                    // Async: recovery codes are taken out of the session as the page renders, which
                    // must be saved before it answers.
                    <Route path=path!("/account") view=AccountPage ssr=SsrMode::Async/>
                    <Route path=path!("/account/api-calls") view=crate::developer::ApiCallsPage ssr=SsrMode::InOrder/>
                    // Async: the page takes a new key out of the session, which must be saved before it answers.
                    <Route path=path!("/account/api-keys/new") view=crate::developer::NewApiKeyPage ssr=SsrMode::Async/>
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
                // A page the server renders (not a route of this app): loaded in full.
                <nav aria-label="Developers">
                    <a href="/developers/api" rel="external">"API reference"</a>
                </nav>
                <ThemeForm/>
            </footer>
        </Router>
    }
}
