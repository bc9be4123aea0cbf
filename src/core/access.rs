//! What each tenant key may do. The api key (`sk_…`) is the tenant's admin key: everything of its
//! own tenant. The ingest key (`ik_…`) is for servers that only send data: events (one or a
//! batch), conversions and consent choices; it reads nothing and changes no configuration, so a leak of it
//! (it sits on more machines: web servers, job runners) cannot touch credentials, settings,
//! visitors' records or the dashboard. The public site key is judged by its origin instead.

/// A bearer key's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The api key: every endpoint of its tenant.
    Admin,
    /// The ingest key: events, conversions and consent choices only.
    Ingest,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Ingest => "ingest",
        }
    }

    /// May a key of this scope call what needs `needed`?
    pub fn allows(self, needed: Scope) -> bool {
        self == Scope::Admin || needed == Scope::Ingest
    }

    /// Why a key of this scope is refused what needs `needed` (403).
    pub fn refusal(self, needed: Scope) -> String {
        format!(
            "this key has the {} scope, which may only send events, conversions and consent \
             choices; this endpoint needs the {} scope: the tenant's api key",
            self.as_str(),
            needed.as_str()
        )
    }
}

/// Prefixes of the keys the gateway mints (`core::secrets::format_key`).
pub const API_KEY_PREFIX: &str = "sk";
pub const INGEST_KEY_PREFIX: &str = "ik";
pub const SITE_KEY_PREFIX: &str = "pk";

/// Default grace period of the old site key after a rotation: pages cached with the old tag keep
/// working for a day.
pub const DEFAULT_SITE_KEY_GRACE_SECS: i64 = 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_keys_only_ingest() {
        assert!(Scope::Admin.allows(Scope::Admin));
        assert!(Scope::Admin.allows(Scope::Ingest));
        assert!(Scope::Ingest.allows(Scope::Ingest));
        assert!(!Scope::Ingest.allows(Scope::Admin));
        let why = Scope::Ingest.refusal(Scope::Admin);
        assert!(
            why.contains("ingest scope") && why.contains("admin scope"),
            "{why}"
        );
    }
}
