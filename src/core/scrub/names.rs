//! The names the scrub reads: parameter and property names that carry personal data or secrets,
//! the marketing parameters that must pass untouched, and the path words of sign-in callbacks.
//!
//! Names are compared after `fold_name`: ASCII lowercase with every character other than a
//! letter or a digit dropped, so `first_name`, `firstName`, `first-name` and `FIRST NAME` are one.

/// Parameters kept exactly as sent, whatever their value looks like: the campaign and click ids
/// the platforms attribute with. `utm_*` is matched by its prefix (`is_marketing`).
pub static MARKETING: &[&str] = &[
    "gclid",
    "gbraid",
    "wbraid",
    "dclid",
    "fbclid",
    "ttclid",
    "li_fat_id",
    "msclkid",
    "twclid",
    "epik",
    "sccid",
    "_gl",
];

/// Folded names that are personal data or a secret wherever they appear inside a longer name
/// (`billing_email`, `user_phone_number`, `x-amz-security-token`, `reset_password`).
pub static CONTAINS: &[(&str, Kind)] = &[
    ("email", Kind::Email),
    ("phone", Kind::Phone),
    ("mobilenumber", Kind::Phone),
    ("password", Kind::Secret),
    ("passwd", Kind::Secret),
    ("passcode", Kind::Secret),
    ("token", Kind::Secret),
    ("secret", Kind::Secret),
    ("session", Kind::Secret),
    ("apikey", Kind::Secret),
    ("accesskey", Kind::Secret),
    ("privatekey", Kind::Secret),
    ("signature", Kind::Secret),
    ("credential", Kind::Secret),
    ("firstname", Kind::Name),
    ("lastname", Kind::Name),
    ("fullname", Kind::Name),
    ("givenname", Kind::Name),
    ("familyname", Kind::Name),
    ("surname", Kind::Name),
    ("maidenname", Kind::Name),
    ("birthdate", Kind::Other),
    ("dateofbirth", Kind::Other),
    ("birthday", Kind::Other),
    ("streetaddress", Kind::Other),
    ("postalcode", Kind::Other),
    ("postcode", Kind::Other),
    ("zipcode", Kind::Other),
    ("creditcard", Kind::Other),
    ("cardnumber", Kind::Other),
    ("socialsecurity", Kind::Other),
    ("passport", Kind::Other),
];

/// Folded names that are personal data or a secret only as the whole name: as part of a longer
/// one they mean something else (`keyword`, `author`, `pinned`, `telemetry`, `domain`).
pub static EXACT: &[(&str, Kind)] = &[
    ("mail", Kind::Email),
    ("em", Kind::Email),
    ("tel", Kind::Phone),
    ("ph", Kind::Phone),
    ("msisdn", Kind::Phone),
    ("mobile", Kind::Phone),
    ("cell", Kind::Phone),
    ("pwd", Kind::Secret),
    ("pass", Kind::Secret),
    ("pw", Kind::Secret),
    ("key", Kind::Secret),
    ("auth", Kind::Secret),
    ("authcode", Kind::Secret),
    ("authorization", Kind::Secret),
    ("otp", Kind::Secret),
    ("pin", Kind::Secret),
    ("jwt", Kind::Secret),
    ("sid", Kind::Secret),
    ("reset", Kind::Secret),
    ("resetkey", Kind::Secret),
    ("sig", Kind::Secret),
    ("fn", Kind::Name),
    ("ln", Kind::Name),
    ("fname", Kind::Name),
    ("lname", Kind::Name),
    ("dob", Kind::Other),
    ("address", Kind::Other),
    ("street", Kind::Other),
    ("zip", Kind::Other),
    ("iban", Kind::Other),
    ("ssn", Kind::Other),
];

/// `code` is a sign-in or password-reset secret in an OAuth/OIDC callback (with `state`, or on
/// a path with one of these words) and an ordinary parameter elsewhere (a coupon code).
pub static CALLBACK_PATH_WORDS: &[&str] = &[
    "callback", "oauth", "auth", "login", "signin", "sso", "verify", "confirm", "activate",
    "reset", "magic",
];

/// What a removed name or value was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Email,
    Phone,
    Name,
    Secret,
    Other,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::Email => "an email address",
            Kind::Phone => "a phone number",
            Kind::Name => "a person's name",
            Kind::Secret => "a token, key, password or session",
            Kind::Other => "personal data",
        }
    }
}
