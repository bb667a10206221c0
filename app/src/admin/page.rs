//! The administrator's page: accounts, page views, consent records, held uploads, the audit log
//! and audited access to a workspace. Anyone else gets the 404 page.

use leptos::prelude::*;

use crate::accounts::api::admin_accounts;
use crate::data::api::{admin_audit_log, AdminViewWorkspace};
use crate::data::{audit_table, AuditEntry};
use crate::error::AppError;
use crate::ids::{AccountId, Role};
use crate::shell::NotFound;
use crate::ui::{when, ErrorNote};

#[component]
pub fn AdminPage() -> impl IntoView {
    let overview = Resource::new(|| (), |_| admin_accounts());
    // Made here, not inside the Suspense that shows them: see `ai_tools::AiPanelData`.
    let held = crate::ai_tools::HeldData::load();
    let audit = admin_audit_entries();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move { Some(overview.await).map(|overview| match overview {
                Ok(overview) => view! {
                    <section class="admin">
                        <h1>"Administration"</h1>
                        <table>
                            <thead><tr><th>"Name"</th><th>"E-mail"</th><th>"Role"</th><th>"Photos"</th><th>"Joined"</th><th>"Data"</th></tr></thead>
                            <tbody>
                                {overview.accounts.into_iter().map(|row| view! {
                                    <tr>
                                        <td>{row.display_name}</td>
                                        <td>{row.email.unwrap_or_default()}</td>
                                        <td>{if row.role == Role::Admin { "admin" } else { "user" }}</td>
                                        <td>{row.photos}</td>
                                        <td>{when(row.created_at)}</td>
                                        <td><AdminWorkspaceForm account=row.id/><crate::billing::GrantCredits account=row.id/></td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <h2>"Page views (with analytics consent only)"</h2>
                        <table aria-label="Page views">
                            <thead><tr><th>"Page"</th><th>"Views"</th><th>"Visitors"</th></tr></thead>
                            <tbody>
                                {overview.page_views.into_iter().map(|row| view! {
                                    <tr><td>{row.path}</td><td>{row.views}</td><td>{row.visitors}</td></tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                        <h2>"Consent records"</h2>
                        <p><a href="/admin/consent-records.csv" rel="external" download>"Export all consent records (CSV)"</a></p>
                        <crate::accounts::AnnouncementForm/>
                        <crate::ai_tools::HeldUploads data=held/>
                        <AdminAuditLog entries=audit/>
                    </section>
                }.into_any(),
                Err(_) => view! { <NotFound/> }.into_any(),
            }) })}
        </Suspense>
    }
}

/// On the admin page: the whole audit log, loaded by `admin_audit_entries` outside the page's
/// `Suspense`.
pub fn admin_audit_entries() -> Resource<Result<Vec<AuditEntry>, AppError>> {
    Resource::new(|| (), |_| admin_audit_log())
}

/// On the admin page: the whole audit log.
#[component]
pub fn AdminAuditLog(entries: Resource<Result<Vec<AuditEntry>, AppError>>) -> impl IntoView {
    view! {
        <h2>"Audit log"</h2>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(entries.await).map(|entries| entries.map(|e| audit_table(e, true))) })}
        </Transition>
    }
}

/// An administrator's only way into someone's workspace: state a reason, which is logged first.
#[component]
pub fn AdminWorkspaceForm(account: AccountId) -> impl IntoView {
    let view_action = ServerAction::<AdminViewWorkspace>::new();
    view! {
        <details class="admin-view">
            <summary>"View workspace (audited)"</summary>
            <ActionForm action=view_action attr:class="inline">
                <input type="hidden" name="account" value=account.to_string()/>
                <label>"Reason" <input type="text" name="reason" required minlength="5"/></label>
                <button type="submit">"View"</button>
            </ActionForm>
            {move || view_action.value().get().map(|result| match result {
                Ok(workspace) => view! {
                    <p>{format!("{}: {} photos, {} gallery items", workspace.display_name, workspace.photos.len(), workspace.gallery.len())}</p>
                    <ul>
                        {workspace.photos.into_iter().map(|p| view! { <li>{format!("{} ({}×{}, {})", p.name, p.width, p.height, when(p.created_at))}</li> }).collect_view()}
                    </ul>
                }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            })}
        </details>
    }
}
