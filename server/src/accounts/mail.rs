//! Outgoing e-mail (links, security notices and opt-in mailings). With no SMTP server configured each
//! message is written as an `.eml` file under the data directory and its path logged, so sign-up
//! works with zero configuration.

use std::path::PathBuf;

use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use app::error::AppError;

#[derive(Clone)]
enum Transport {
    Files(AsyncFileTransport<Tokio1Executor>),
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
}

#[derive(Clone)]
pub struct Mailer {
    from: lettre::message::Mailbox,
    transport: Transport,
    dir: Option<PathBuf>,
}

impl Mailer {
    /// SMTP when `smtp_url` is set (`smtps://user:pass@host` or `smtp://host?tls=required`),
    /// otherwise files in `dir`.
    pub fn new(from: &str, smtp_url: Option<&str>, dir: PathBuf) -> anyhow::Result<Self> {
        let from = from.parse().map_err(|error| anyhow::anyhow!("mail_from is not an address: {error}"))?;
        Ok(match smtp_url {
            Some(url) => Mailer {
                from,
                transport: Transport::Smtp(
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                        .map_err(|error| anyhow::anyhow!("smtp_url is invalid: {error}"))?
                        .build(),
                ),
                dir: None,
            },
            None => {
                std::fs::create_dir_all(&dir)?;
                Mailer { from, transport: Transport::Files(AsyncFileTransport::new(&dir)), dir: Some(dir) }
            }
        })
    }

    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), AppError> {
        self.deliver(to, subject, body, None).await
    }

    /// An opt-in mailing: carries the RFC 8058 one-click unsubscribe headers, so mail clients can
    /// offer the button and a POST to `unsubscribe_url` ends it.
    pub async fn send_mailing(
        &self,
        to: &str,
        subject: &str,
        body: String,
        unsubscribe_url: &str,
    ) -> Result<(), AppError> {
        self.deliver(to, subject, body, Some(unsubscribe_url)).await
    }

    async fn deliver(
        &self,
        to: &str,
        subject: &str,
        body: String,
        unsubscribe_url: Option<&str>,
    ) -> Result<(), AppError> {
        let internal = |error: &dyn std::fmt::Display| {
            tracing::error!(%error, "sending e-mail failed");
            AppError::Internal
        };
        let to = to.parse().map_err(|_| AppError::BadRequest("That is not an e-mail address.".into()))?;
        let mut builder =
            Message::builder().from(self.from.clone()).to(to).subject(subject).header(ContentType::TEXT_PLAIN);
        if let Some(url) = unsubscribe_url {
            builder = builder
                .raw_header(HeaderValue::new(HeaderName::new_from_ascii_str("List-Unsubscribe"), format!("<{url}>")))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".into(),
                ));
        }
        let message = builder.body(body).map_err(|error| internal(&error))?;
        match &self.transport {
            Transport::Files(files) => {
                let id = files.send(message).await.map_err(|error| internal(&error))?;
                let dir = self.dir.as_deref().unwrap_or_else(|| std::path::Path::new("."));
                // The path, never the content: the message holds a sign-in link.
                tracing::info!(file = %dir.join(format!("{id}.eml")).display(), "e-mail written (no SMTP server configured)");
            }
            Transport::Smtp(smtp) => {
                smtp.send(message).await.map_err(|error| internal(&error))?;
            }
        }
        Ok(())
    }
}
