//! The API reference page, `/developers/api`: rendered on the server from the OpenAPI document
//! (so it says what the code does), with no script and nothing from another site. Every
//! operation with its scope, parameters, body and answers; every schema; the error codes; the
//! webhook signature.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::Value;

use crate::developer::error::CODES;
use crate::state::AppState;

pub const PATH: &str = "/developers/api";

/// The page's route, for the application's router (inside its security-header layers).
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(page))
}

async fn page() -> Response {
    let mut response = render().into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The document's few marks: paragraphs, **bold** and `code`.
fn prose(text: &str) -> String {
    text.split("\n\n").map(|paragraph| format!("<p>{}</p>", inline(paragraph))).collect()
}

/// **bold** and `code` in one line of text, escaped.
fn inline(text: &str) -> String {
    let mut html = String::new();
    let (mut bold, mut code) = (false, false);
    let escaped = escape(text);
    let mut rest = escaped.as_str();
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("**") && !code {
            html.push_str(if bold { "</strong>" } else { "<strong>" });
            bold = !bold;
            rest = &rest[2..];
            continue;
        }
        if c == '`' {
            html.push_str(if code { "</code>" } else { "<code>" });
            code = !code;
        } else {
            html.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    if code {
        html.push_str("</code>");
    }
    if bold {
        html.push_str("</strong>");
    }
    html
}

fn schema_name(schema: &Value) -> String {
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{0}\">{0}</a>", escape(name));
    }
    if let Some(options) = schema.get("oneOf").and_then(Value::as_array) {
        return options.iter().map(schema_name).collect::<Vec<_>>().join(" or ");
    }
    let kind = match schema.get("type") {
        Some(Value::String(kind)) => kind.clone(),
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" or "),
        _ => "any".into(),
    };
    if kind.starts_with("array") {
        if let Some(items) = schema.get("items") {
            return format!("array of {}", schema_name(items));
        }
    }
    let format = schema.get("format").and_then(Value::as_str).map(|f| format!(" ({})", escape(f))).unwrap_or_default();
    let values = schema
        .get("enum")
        .and_then(Value::as_array)
        .map(|values| {
            let values: Vec<String> =
                values.iter().map(|v| format!("<code>{}</code>", escape(v.as_str().unwrap_or_default()))).collect();
            format!(": {}", values.join(", "))
        })
        .unwrap_or_default();
    format!("{}{format}{values}", escape(&kind))
}

fn operation_html(method: &str, path: &str, operation: &Value) -> String {
    let id = operation.get("operationId").and_then(Value::as_str).unwrap_or_default();
    let mut html = format!(
        "<section class=\"api-operation\" id=\"op-{id}\"><h3><code>{} {}</code></h3>",
        method.to_uppercase(),
        escape(path)
    );
    if let Some(summary) = operation.get("summary").and_then(Value::as_str) {
        html.push_str(&format!("<p>{}</p>", inline(summary)));
    }
    if let Some(description) = operation.get("description").and_then(Value::as_str) {
        html.push_str(&prose(description));
    }
    let scopes: Vec<String> = operation
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|requirement| requirement.get("bearer"))
        .flat_map(|scopes| scopes.as_array().cloned().unwrap_or_default())
        .filter_map(|scope| scope.as_str().map(str::to_string))
        .collect();
    let keyed = operation
        .get("security")
        .and_then(Value::as_array)
        .is_none_or(|requirements| requirements.iter().any(|r| r.get("bearer").is_some()));
    html.push_str(&match (keyed, scopes.is_empty()) {
        (false, _) => "<p><strong>Authentication:</strong> none.</p>".to_string(),
        (true, true) => "<p><strong>Authentication:</strong> an API key with any scope.</p>".to_string(),
        (true, false) => format!("<p><strong>Scope:</strong> <code>{}</code></p>", escape(&scopes.join(", "))),
    });
    if let Some(parameters) = operation.get("parameters").and_then(Value::as_array) {
        html.push_str("<table><thead><tr><th>Parameter</th><th>In</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>");
        for parameter in parameters {
            let text = |key: &str| parameter.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
            let required = parameter.get("required").and_then(Value::as_bool).unwrap_or(false);
            html.push_str(&format!(
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&text("name")),
                escape(&text("in")),
                parameter.get("schema").map(schema_name).unwrap_or_default(),
                if required { "yes" } else { "no" },
                inline(&text("description")),
            ));
        }
        html.push_str("</tbody></table>");
    }
    if let Some(content) = operation.pointer("/requestBody/content").and_then(Value::as_object) {
        for (media, body) in content {
            html.push_str(&format!(
                "<p><strong>Body</strong> (<code>{}</code>): {}</p>",
                escape(media),
                body.get("schema").map(schema_name).unwrap_or_default()
            ));
        }
    }
    if let Some(responses) = operation.get("responses").and_then(Value::as_object) {
        html.push_str("<table><thead><tr><th>Status</th><th>Answer</th><th>Description</th></tr></thead><tbody>");
        for (status, response) in responses {
            let body = response
                .get("content")
                .and_then(Value::as_object)
                .map(|content| {
                    content
                        .iter()
                        .map(|(media, body)| {
                            format!(
                                "{} <code>{}</code>",
                                body.get("schema").map(schema_name).unwrap_or_default(),
                                escape(media)
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("<br>")
                })
                .unwrap_or_default();
            let description = response.get("description").and_then(Value::as_str).unwrap_or_default();
            html.push_str(&format!(
                "<tr><td>{}</td><td>{body}</td><td>{}</td></tr>",
                escape(status),
                inline(description)
            ));
        }
        html.push_str("</tbody></table>");
    }
    html.push_str("</section>");
    html
}

fn schema_html(name: &str, schema: &Value) -> String {
    let mut html = format!("<section class=\"api-schema\" id=\"schema-{0}\"><h3>{0}</h3>", escape(name));
    if let Some(description) = schema.get("description").and_then(Value::as_str) {
        html.push_str(&prose(description));
    }
    let required: Vec<&str> =
        schema.get("required").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
    match schema.get("properties").and_then(Value::as_object) {
        Some(properties) => {
            html.push_str("<table><thead><tr><th>Field</th><th>Type</th><th>Required</th><th>Description</th></tr></thead><tbody>");
            for (field, property) in properties {
                html.push_str(&format!(
                    "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(field),
                    schema_name(property),
                    if required.contains(&field.as_str()) { "yes" } else { "no" },
                    inline(property.get("description").and_then(Value::as_str).unwrap_or_default()),
                ));
            }
            html.push_str("</tbody></table>");
        }
        None => html.push_str(&format!("<p>{}</p>", schema_name(schema))),
    }
    html.push_str("</section>");
    html
}

/// The page, from the document.
pub fn render() -> String {
    let document = serde_json::to_value(super::openapi::document()).unwrap_or(Value::Null);
    let title = document.pointer("/info/title").and_then(Value::as_str).unwrap_or("API");
    let description = document.pointer("/info/description").and_then(Value::as_str).unwrap_or_default();
    let mut by_tag: Vec<(String, Vec<String>)> = document
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| tag.get("name").and_then(Value::as_str).map(|name| (name.to_string(), Vec::new())))
        .collect();
    let mut contents = String::new();
    for (path, item) in document.get("paths").and_then(Value::as_object).into_iter().flatten() {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else { continue };
            let tag = operation.pointer("/tags/0").and_then(Value::as_str).unwrap_or("other").to_string();
            let html = operation_html(method, path, operation);
            match by_tag.iter_mut().find(|(name, _)| *name == tag) {
                Some((_, operations)) => operations.push(html),
                None => by_tag.push((tag, vec![html])),
            }
        }
    }
    let mut operations = String::new();
    for (tag, html) in &by_tag {
        if html.is_empty() {
            continue;
        }
        contents.push_str(&format!("<li><a href=\"#tag-{0}\">{0}</a></li>", escape(tag)));
        let words = document
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|t| t.get("name").and_then(Value::as_str) == Some(tag.as_str()))
            .and_then(|t| t.get("description").and_then(Value::as_str))
            .unwrap_or_default();
        operations.push_str(&format!(
            "<h2 id=\"tag-{0}\">{0}</h2><p>{1}</p>{2}",
            escape(tag),
            escape(words),
            html.concat()
        ));
    }
    let schemas: String = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, schema)| schema_html(name, schema))
        .collect();
    let codes: String = CODES
        .iter()
        .map(|(code, status, meaning)| {
            format!("<tr><td><code>{code}</code></td><td>{status}</td><td>{}</td></tr>", inline(meaning))
        })
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} reference · Atelier</title><link rel=\"stylesheet\" href=\"/pkg/atelier.css\"></head>\
         <body><main class=\"api-reference\"><p><a href=\"/\">Atelier</a> · <a href=\"/account\">Your API keys</a></p>\
         <h1>{title} reference</h1>{description}\
         <p>The machine-readable document: <a href=\"/api/v1/openapi.json\"><code>/api/v1/openapi.json</code></a> (OpenAPI 3.1).</p>\
         <nav><h2>Contents</h2><ul>{contents}<li><a href=\"#errors\">Error codes</a></li>\
         <li><a href=\"#webhooks\">Webhook signatures</a></li><li><a href=\"#schemas\">Schemas</a></li></ul></nav>\
         {operations}\
         <h2 id=\"errors\">Error codes</h2><table><thead><tr><th>Code</th><th>Status</th><th>Meaning</th></tr></thead>\
         <tbody>{codes}</tbody></table>\
         <h2 id=\"webhooks\">Webhook signatures</h2>\
         <p>Each delivery carries <code>Atelier-Signature: t=&lt;unix seconds&gt;,v1=&lt;signature&gt;</code>. \
         The signature is the lowercase hex HMAC-SHA256, keyed with the key's webhook secret (the whole \
         <code>whsec_…</code> text), of the timestamp, a full stop and the raw body: <code>&lt;t&gt;.&lt;body&gt;</code>. \
         Compute it over the bytes you received, compare in constant time, and refuse a timestamp more than \
         five minutes old. <code>Atelier-Event</code> names the event type; the body is a \
         <a href=\"#schema-WebhookEvent\">WebhookEvent</a>. Answer 2xx within 10 seconds; otherwise the delivery \
         is retried up to five times. Webhooks go only to public addresses.</p>\
         <h2 id=\"schemas\">Schemas</h2>{schemas}</main></body></html>",
        title = escape(title),
        description = prose(description),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_lists_every_operation_every_schema_and_every_error_code() {
        let page = render();
        let document = serde_json::to_value(super::super::openapi::document()).unwrap();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(page.contains(&format!("id=\"op-{id}\"")), "{id} is missing");
            }
        }
        for name in document["components"]["schemas"].as_object().unwrap().keys() {
            assert!(page.contains(&format!("id=\"schema-{name}\"")), "{name} is missing");
        }
        for (code, _, _) in CODES {
            assert!(page.contains(&format!("<code>{code}</code>")), "{code} is missing");
        }
        assert!(page.contains("HMAC-SHA256"));
        assert!(!page.contains("<script"), "the page runs no script");
    }

    #[test]
    fn prose_escapes_and_marks_code_and_bold() {
        assert_eq!(prose("**A** `<b>`"), "<p><strong>A</strong> <code>&lt;b&gt;</code></p>");
    }
}
