//! "Your data" on the account page: usage chart, audit log, download my data, delete my account.

use leptos::prelude::*;

use crate::ai_tools::ToolKind;
use crate::data::api::{my_audit_log, my_exports, my_usage, DeleteAccount, StartExport};
use crate::data::{AuditEntry, ExportJob, UsageReport};
use crate::error::AppError;
use crate::ids::JobState;
use crate::ui::{reload_to, when, ErrorNote};

const TOOL_CLASSES: [&str; 4] = ["tool-a", "tool-b", "tool-c", "tool-d"];

/// Operations per day, stacked by tool, as an inline SVG with a table for screen readers.
#[component]
fn UsageChart(report: UsageReport) -> impl IntoView {
    let mut tools: Vec<String> = report.by_day.iter().map(|(_, tool, _, _)| tool.clone()).collect();
    tools.sort();
    tools.dedup();
    let mut days: Vec<String> = report.by_day.iter().map(|(day, ..)| day.clone()).collect();
    days.dedup();
    let per_day = |day: &str| report.by_day.iter().filter(|(d, ..)| d == day).map(|(_, _, ops, _)| *ops).sum::<u64>();
    let max = days.iter().map(|d| per_day(d)).max().unwrap_or(1).max(1) as f64;
    let (bar, gap, height) = (28.0, 12.0, 120.0);
    let width = (days.len() as f64 * (bar + gap)).max(bar + gap);
    let class_of = |tool: &str| TOOL_CLASSES[tools.iter().position(|t| t == tool).unwrap_or(0) % TOOL_CLASSES.len()];
    let mut rects = Vec::new();
    for (index, day) in days.iter().enumerate() {
        let mut top = height;
        for (_, tool, ops, _) in report.by_day.iter().filter(|(d, ..)| d == day) {
            let h = *ops as f64 / max * height;
            top -= h;
            let label = format!("{day}: {ops} × {}", ToolKind::operation_label(tool));
            rects.push(view! {
                <rect class=class_of(tool) x=index as f64 * (bar + gap) y=top width=bar height=h><title>{label}</title></rect>
            });
        }
    }
    view! {
        <figure class="usage-chart">
            <svg role="img" aria-label="Operations per day by tool" viewBox=format!("0 0 {width} {height}") width=width height=height>
                {rects}
            </svg>
            <figcaption class="legend">
                {tools.iter().map(|tool| view! { <span class=format!("swatch {}", class_of(tool))></span>{ToolKind::operation_label(tool).to_string()}" " }).collect_view()}
            </figcaption>
            <table aria-label="Usage by day and tool">
                <thead><tr><th>"Day"</th><th>"Tool"</th><th>"Operations"</th><th>"Credits"</th></tr></thead>
                <tbody>
                    {report.by_day.iter().rev().map(|(day, tool, ops, credits)| view! {
                        <tr><td>{day.clone()}</td><td>{ToolKind::operation_label(tool).to_string()}</td><td>{*ops}</td><td>{*credits}</td></tr>
                    }).collect_view()}
                </tbody>
            </table>
            <p class="hint">{format!("{} credits in all. Usage records keep the tool, the time it took and image sizes — never your pictures or what you typed.", report.total_credits)}</p>
        </figure>
    }
}

pub fn audit_table(entries: Vec<AuditEntry>, show_ids: bool) -> impl IntoView {
    view! {
        <table class="audit" aria-label="Audit log">
            <thead><tr><th>"When"</th><th>"What"</th><th>"Details"</th>{show_ids.then(|| view! { <th>"Account"</th><th>"By"</th> })}</tr></thead>
            <tbody>
                {entries.into_iter().map(|entry| view! {
                    <tr data-action=entry.action.clone()>
                        <td>{when(entry.created_at)}</td>
                        <td>{entry.action.replace('_', " ")}</td>
                        <td>{entry.detail}</td>
                        {show_ids.then(|| view! { <td>{entry.account.unwrap_or_default()}</td><td>{entry.actor.unwrap_or_default()}</td> })}
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// Starts an export and follows it until its link is ready.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
#[component]
fn ExportSection(
    start: ServerAction<StartExport>,
    tick: RwSignal<u32>,
    exports: Resource<Result<Vec<ExportJob>, AppError>>,
) -> impl IntoView {
    // While a job runs, ask again every second: the bar follows the server's progress.
    Effect::new(move |_| {
        let busy = exports
            .get()
            .and_then(Result::ok)
            .is_some_and(|jobs| jobs.iter().any(|j| matches!(j.state, JobState::Queued | JobState::Running)));
        if busy {
            #[cfg(feature = "hydrate")]
            set_timeout(move || tick.update(|n| *n += 1), std::time::Duration::from_millis(800));
        }
    });
    view! {
        <h2>"Download my data"</h2>
        <p class="hint">"A zip with everything Atelier holds about you: a JSON manifest (account, sessions, consent records, usage, audit log, gallery with recipes) and your original and edited photos. The link works for you only and expires; the archive is deleted after a day."</p>
        <ActionForm action=start>
            <button type="submit">"Prepare my data"</button>
        </ActionForm>
        {move || match start.value().get() {
            Some(Err(error)) => Some(view! { <ErrorNote error/> }),
            _ => None,
        }}
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(exports.await).map(|jobs| jobs.unwrap_or_default().into_iter().map(|job| {
                let label = match job.state {
                    JobState::Queued => "Waiting to start…".to_string(),
                    JobState::Running => format!("Preparing… {}%", job.progress),
                    JobState::Done => format!("Ready (until {})", job.expires_at.map(when).unwrap_or_default()),
                    JobState::Failed | JobState::Cancelled => "This export failed. Please try again.".to_string(),
                };
                view! {
                    <div class="export-job" data-state=format!("{:?}", job.state).to_lowercase()>
                        <progress max="100" value=job.progress aria-label="Export progress"></progress>
                        <span role="status">{label}</span>
                        {job.download_url.map(|url| view! { <a class="button" href=url rel="external" download>"Download my data (zip)"</a> })}
                    </div>
                }
            }).collect_view()) })}
        </Transition>
    }
}

#[component]
fn DeleteAccountSection(confirm_with: String) -> impl IntoView {
    let delete = ServerAction::<DeleteAccount>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            reload_to("/?account=deleted");
        }
    });
    view! {
        <h2>"Delete my account"</h2>
        <p class="hint">"This erases your account, every photo, edit, export and session, your consent records and your audit entries, at once and for good. Usage totals are kept without anything that points to you."</p>
        <ActionForm action=delete attr:class="auth-form danger-zone">
            <label>{format!("Type {confirm_with} to confirm")}
                <input type="text" name="confirmation" autocomplete="off" required/>
            </label>
            <button type="submit" class="danger">"Delete my account permanently"</button>
        </ActionForm>
        {move || match delete.value().get() {
            Some(Err(error)) => Some(view! { <ErrorNote error/> }),
            _ => None,
        }}
    }
}

/// What "Your data" loads, made once by the account page outside its `Suspense`s: a resource
/// made inside one is made again on each of its server-side re-checks (see `ai_tools::AiPanelData`).
#[derive(Clone, Copy)]
pub struct YourDataResources {
    usage: Resource<Result<UsageReport, AppError>>,
    audit: Resource<Result<Vec<AuditEntry>, AppError>>,
    start_export: ServerAction<StartExport>,
    tick: RwSignal<u32>,
    exports: Resource<Result<Vec<ExportJob>, AppError>>,
    credits: crate::billing::CreditsData,
}

impl YourDataResources {
    pub fn load() -> Self {
        let start_export = ServerAction::<StartExport>::new();
        let tick = RwSignal::new(0u32);
        Self {
            usage: Resource::new(|| (), |_| my_usage()),
            audit: Resource::new(|| (), |_| my_audit_log()),
            start_export,
            tick,
            exports: Resource::new(move || (start_export.version().get(), tick.get()), |_| my_exports()),
            credits: crate::billing::CreditsData::load(),
        }
    }
}

/// The account page's "Your data" part; `confirm_with` is what erasure asks to be typed.
#[component]
pub fn YourData(confirm_with: String, data: YourDataResources) -> impl IntoView {
    let YourDataResources { usage, audit, start_export, tick, exports, credits } = data;
    view! {
        <crate::billing::CreditsSection data=credits/>
        <h2>"Usage"</h2>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(usage.await).map(|report| match report {
                Ok(report) if report.recent.is_empty() => view! { <p class="hint">"Nothing used yet."</p> }.into_any(),
                Ok(report) => view! { <UsageChart report/> }.into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            }) })}
        </Transition>
        <h2>"Activity on your account"</h2>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { Some(audit.await).map(|entries| match entries {
                Ok(entries) => audit_table(entries, false).into_any(),
                Err(error) => view! { <ErrorNote error/> }.into_any(),
            }) })}
        </Transition>
        <ExportSection start=start_export tick exports/>
        <DeleteAccountSection confirm_with/>
    }
}
