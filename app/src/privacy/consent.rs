//! Cookie consent: the one registry of every cookie Atelier may set (which decides what may be set
//! and generates the cookie policy), the categories, and the consent cookie's format.

use serde::{Deserialize, Serialize};

/// Bumped when the banner's wording or choices change (stored with each record).
pub const BANNER_VERSION: u32 = 1;
/// Holds the visitor's choices: pseudonymous id, policy version and one flag per category.
pub const CONSENT_COOKIE: &str = "atelier_consent";
pub const THEME_COOKIE: &str = "atelier_theme";
pub const VISITOR_COOKIE: &str = "atelier_visitor";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Necessary,
    Preferences,
    Analytics,
    Marketing,
}

impl Category {
    pub const ALL: [Category; 4] =
        [Category::Necessary, Category::Preferences, Category::Analytics, Category::Marketing];

    pub fn key(self) -> &'static str {
        match self {
            Category::Necessary => "necessary",
            Category::Preferences => "preferences",
            Category::Analytics => "analytics",
            Category::Marketing => "marketing",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Category::Necessary => "Strictly necessary",
            Category::Preferences => "Preferences",
            Category::Analytics => "Analytics",
            Category::Marketing => "Marketing e-mails",
        }
    }

    pub fn purpose(self) -> &'static str {
        match self {
            Category::Necessary => "Keep you signed in, keep your workspace yours, and remember these choices. Always on: Atelier cannot work without them.",
            Category::Preferences => "Remember settings you choose, such as the light or dark theme.",
            Category::Analytics => "Count page views with Atelier's own first-party statistics (no third party, no IP address, no profile) to learn which pages people use.",
            Category::Marketing => "Occasional e-mails about new features. Sets no cookie; it only records that you agreed.",
        }
    }
}

/// One cookie Atelier may set.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CookieInfo {
    pub name: &'static str,
    pub category: Category,
    pub purpose: &'static str,
    pub lifetime: &'static str,
}

/// Every cookie Atelier sets. A cookie not listed here is never set.
pub const COOKIES: &[CookieInfo] = &[
    CookieInfo {
        name: "atelier_session",
        category: Category::Necessary,
        purpose: "Identifies your session: your guest workspace or signed-in account, and a sign-in in progress.",
        lifetime: "Until 14 days without a visit (30 days at most after signing in)",
    },
    CookieInfo {
        name: CONSENT_COOKIE,
        category: Category::Necessary,
        purpose: "Remembers your cookie choices and which policy version you answered.",
        lifetime: "6 months",
    },
    CookieInfo {
        name: THEME_COOKIE,
        category: Category::Preferences,
        purpose: "Remembers the theme you chose (light or dark).",
        lifetime: "1 year",
    },
    CookieInfo {
        name: VISITOR_COOKIE,
        category: Category::Analytics,
        purpose: "A random number that lets Atelier's own statistics count a returning browser once.",
        lifetime: "1 year",
    },
];

/// The visitor's answer, one flag per optional category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choices {
    pub preferences: bool,
    pub analytics: bool,
    pub marketing: bool,
}

impl Choices {
    pub const NONE: Choices = Choices { preferences: false, analytics: false, marketing: false };
    pub const ALL: Choices = Choices { preferences: true, analytics: true, marketing: true };

    pub fn allows(&self, category: Category) -> bool {
        match category {
            Category::Necessary => true,
            Category::Preferences => self.preferences,
            Category::Analytics => self.analytics,
            Category::Marketing => self.marketing,
        }
    }

    /// Whether the cookie called `name` may exist under these choices (unknown names never may).
    pub fn allows_cookie(&self, name: &str) -> bool {
        COOKIES.iter().find(|cookie| cookie.name == name).is_some_and(|cookie| self.allows(cookie.category))
    }

    /// The choices in force: Global Privacy Control keeps analytics off whatever was chosen.
    pub fn effective(self, gpc: bool) -> Choices {
        Choices { analytics: self.analytics && !gpc, ..self }
    }

    /// Whether going from `self` to `next` takes back anything given.
    pub fn withdrawn_by(&self, next: &Choices) -> bool {
        (self.preferences && !next.preferences)
            || (self.analytics && !next.analytics)
            || (self.marketing && !next.marketing)
    }
}

/// The consent cookie's value: `<consent id>.<policy version>.<p><a><m>`, e.g. `…​.1.010`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentCookie {
    pub consent_id: String,
    pub policy_version: u32,
    pub choices: Choices,
}

impl ConsentCookie {
    pub fn encode(&self) -> String {
        let flag = |on: bool| if on { '1' } else { '0' };
        let Choices { preferences, analytics, marketing } = self.choices;
        format!(
            "{}.{}.{}{}{}",
            self.consent_id,
            self.policy_version,
            flag(preferences),
            flag(analytics),
            flag(marketing)
        )
    }

    /// `None` for anything malformed: then the visitor is simply asked again.
    pub fn parse(value: &str) -> Option<ConsentCookie> {
        let mut parts = value.split('.');
        let (id, version, flags) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || id.len() != 32 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        let flags: Vec<bool> =
            flags.chars().map(|c| (c == '1').then_some(true).or((c == '0').then_some(false))).collect::<Option<_>>()?;
        let [preferences, analytics, marketing] = flags[..] else { return None };
        Some(ConsentCookie {
            consent_id: id.to_string(),
            policy_version: version.parse().ok()?,
            choices: Choices { preferences, analytics, marketing },
        })
    }
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value(header: &str, name: &str) -> Option<String> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

/// What the pages need to know about consent for this request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    /// No answer yet, or an answer to an older policy version.
    pub ask: bool,
    pub choices: Choices,
    /// The browser sends Global Privacy Control: analytics stay off whatever is chosen.
    pub gpc: bool,
    pub policy_version: u32,
}

/// One stored consent record, as the history lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub action: String,
    pub choices: Choices,
    pub policy_version: u32,
    pub banner_version: u32,
    pub gpc: bool,
    pub created_at: i64,
}

/// Facts the privacy and cookie policies are rendered from, read from the live configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyFacts {
    pub policy_version: u32,
    pub providers: Vec<String>,
    pub session_idle_days: i64,
    pub session_absolute_days: i64,
    pub smtp_configured: bool,
    pub max_upload_mb: u64,
    pub unsaved_retention_hours: i64,
    pub saved_retention_days: i64,
    pub expiry_warning_days: i64,
    pub export_retention_hours: i64,
    pub download_link_minutes: i64,
    /// The host of the vision service captions are asked from, when one is configured.
    #[serde(default)]
    pub vision_provider: Option<String>,
    /// The image services generation may use: (name, host).
    #[serde(default)]
    pub image_services: Vec<(String, String)>,
    /// Uploads scoring at or above this are held; None when no moderation model is installed.
    #[serde(default)]
    pub moderation_threshold: Option<f32>,
    /// The age below which this service is not meant to be used.
    #[serde(default)]
    pub minimum_age: u32,
    /// The payment service people pay through, when billing mode is "stripe": (name, host).
    #[serde(default)]
    pub payment_processor: Option<(String, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_consent_cookie_round_trips_and_nonsense_is_refused() {
        let cookie = ConsentCookie {
            consent_id: "0123456789abcdef0123456789abcdef".into(),
            policy_version: 3,
            choices: Choices { preferences: false, analytics: true, marketing: false },
        };
        assert_eq!(cookie.encode(), "0123456789abcdef0123456789abcdef.3.010");
        assert_eq!(ConsentCookie::parse(&cookie.encode()), Some(cookie));
        for bad in [
            "",
            "x.1.000",
            "0123456789abcdef0123456789abcdef.1.01",
            "0123456789abcdef0123456789abcdef.v.000",
            "0123456789abcdef0123456789abcdef.1.012",
            "0123456789abcdef0123456789abcdef.1.000.9",
        ] {
            assert_eq!(ConsentCookie::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_registered_cookies_of_allowed_categories_may_exist() {
        assert!(Choices::NONE.allows_cookie("atelier_session"));
        assert!(Choices::NONE.allows_cookie(CONSENT_COOKIE));
        assert!(!Choices::NONE.allows_cookie(THEME_COOKIE));
        assert!(!Choices::NONE.allows_cookie(VISITOR_COOKIE));
        assert!(Choices::ALL.allows_cookie(VISITOR_COOKIE));
        assert!(!Choices::ALL.allows_cookie("_ga"));
        assert!(Choices::ALL.withdrawn_by(&Choices::NONE));
        assert!(!Choices::NONE.withdrawn_by(&Choices::ALL));
    }
}
