//! The pages a person sees while connecting an ad account: the confirmation the OAuth callback
//! answers (naming the tenant the grant would go to, with the one button that stores it) and the
//! result. Plain HTML with no script and nothing loaded from elsewhere; every value is escaped
//! (a tenant's name is the tenant's own text, a callback's `code` the query's).

use super::AdsPlatform;
use crate::core::text::escape_html;

/// Their `Content-Security-Policy`: no script, no framing (the button must not be clickjacked),
/// the form posts only back to the gateway.
pub const PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

fn platform_name(p: AdsPlatform) -> &'static str {
    match p {
        AdsPlatform::Meta => "Meta",
        AdsPlatform::Google => "Google Ads",
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\"><title>{title}</title>\
         <style>body{{font:16px/1.5 system-ui,sans-serif;max-width:38em;margin:3em auto;padding:0 1em;color:#1f2933}}\
         button{{font:inherit;padding:.5em 1.2em}}.warn{{color:#8a1c1c}}</style></head>\n<body>{body}</body></html>\n"
    )
}

/// The callback's answer: which tenant the person is about to connect their ad accounts to, and
/// the form that confirms it (posting the state and code back to `confirm`, beside the callback).
pub fn confirm_page(platform: AdsPlatform, tenant_name: &str, state: &str, code: &str) -> String {
    let p = platform_name(platform);
    let t = escape_html(tenant_name);
    let what = match platform {
        AdsPlatform::Meta => "read their campaigns and metrics and manage their custom audiences",
        AdsPlatform::Google => "read their campaigns and metrics and upload customer lists",
    };
    page(
        &format!("Connect {p} to {t}?"),
        &format!(
            "<h1>Connect your {p} ad accounts to <q>{t}</q>?</h1>\n\
             <p>The pixelgate account <strong>{t}</strong> will be able to {what}.</p>\n\
             <p class=\"warn\">Continue only if you started this from <strong>{t}</strong>'s dashboard. \
             If you do not recognise that name, close this page: nothing has been connected.</p>\n\
             <form method=\"post\" action=\"confirm\">\
             <input type=\"hidden\" name=\"state\" value=\"{}\">\
             <input type=\"hidden\" name=\"code\" value=\"{}\">\
             <button type=\"submit\">Connect to {t}</button></form>\n",
            escape_html(state),
            escape_html(code)
        ),
    )
}

/// After the confirmation: what was connected, to which tenant.
pub fn connected_page(platform: AdsPlatform, tenant_name: &str, accounts: &[String]) -> String {
    let p = platform_name(platform);
    let t = escape_html(tenant_name);
    let items: String = accounts
        .iter()
        .map(|a| format!("<li>{}</li>", escape_html(a)))
        .collect();
    page(
        &format!("{p} connected to {t}"),
        &format!(
            "<h1>{p} connected to <q>{t}</q></h1>\n<ul>{items}</ul>\n<p>You can close this page, or go back \
             to the <a href=\"/admin/#ads-accounts\">dashboard</a>.</p>\n"
        ),
    )
}

/// After the confirmation of a grant that reaches several accounts: where to pick them.
pub fn choose_page(platform: AdsPlatform, tenant_name: &str, accounts: usize) -> String {
    let p = platform_name(platform);
    let t = escape_html(tenant_name);
    page(
        &format!("Choose the {p} accounts to connect to {t}"),
        &format!(
            "<h1>Choose the {p} accounts to connect to <q>{t}</q></h1>\n\
             <p>This login reaches {accounts} ad accounts. Pick the ones to connect in the \
             <a href=\"/admin/#ads-accounts\">dashboard</a>, within the hour; nothing is synced \
             until you do.</p>\n<p>You can close this page.</p>\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_names_the_tenant_escaped_and_posts_back() {
        let html = confirm_page(
            AdsPlatform::Meta,
            "Mallory <b>Ads</b> & Co",
            "a.b",
            "x\"><script>",
        );
        assert!(html.contains("<q>Mallory &lt;b&gt;Ads&lt;/b&gt; &amp; Co</q>"));
        assert!(!html.contains("<b>") && !html.contains("<script>"));
        assert!(html.contains("<form method=\"post\" action=\"confirm\">"));
        assert!(html.contains("name=\"state\" value=\"a.b\""));
        assert!(html.contains("name=\"code\" value=\"x&quot;&gt;&lt;script&gt;\""));
        assert!(html.contains("custom audiences"));
        assert!(confirm_page(AdsPlatform::Google, "S", "s", "c").contains("Google Ads"));
    }

    #[test]
    fn the_result_lists_the_accounts() {
        let html = connected_page(AdsPlatform::Google, "Shop", &["Main <EUR> (123)".into()]);
        assert!(html.contains("<li>Main &lt;EUR&gt; (123)</li>"));
        assert!(html.contains("Google Ads connected to <q>Shop</q>"));
    }

    #[test]
    fn the_pick_page_sends_the_person_to_the_dashboard() {
        let html = choose_page(AdsPlatform::Meta, "Shop <1>", 3);
        assert!(html.contains("reaches 3 ad accounts"));
        assert!(html.contains("<a href=\"/admin/#ads-accounts\">dashboard</a>"));
        assert!(html.contains("<q>Shop &lt;1&gt;</q>"));
    }
}
