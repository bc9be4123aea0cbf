//! Rows holding sealed secrets that are not in the current form (an older key, or the form from
//! before keys had ids), for the re-encrypt job; and the compare-and-set that moves one field.

use serde::Deserialize;
use worker::{D1Database, D1PreparedStatement};

use super::{all, n, s, stmt};
use crate::edge::ApiError;

/// A row with sealed fields. For pixels `row` is the pixel id; for ads accounts
/// `ads:<platform>:<account_id>` (`secrets::ads_row`), for integrations `integration:<kind>`
/// (`secrets::integration_row`), which is what they are sealed for.
#[derive(Deserialize)]
pub struct SealedRow {
    pub id: String,
    pub tenant_id: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub account_id: String,
    #[serde(default)]
    pub kind: String,
    pub first: Option<String>,
    pub second: Option<String>,
}

/// Which table, and its two sealed columns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    Pixels,
    AdsAccounts,
    Integrations,
}

impl SealedTable {
    /// (table, its id, first column, second column, extra columns selected)
    fn shape(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            SealedTable::Pixels => ("pixels", "id", "access_token_enc", "api_secret_enc", ""),
            SealedTable::AdsAccounts => (
                "ads_accounts",
                "id",
                "access_token_enc",
                "refresh_token_enc",
                ", platform, account_id",
            ),
            // One sealed column; its key is (tenant, kind).
            SealedTable::Integrations => (
                "integrations",
                "(tenant_id || '/' || kind)",
                "secret_enc",
                "NULL",
                ", kind",
            ),
        }
    }

    /// The field names the secrets are sealed for (the columns without `_enc`).
    pub fn fields(self) -> [&'static str; 2] {
        match self {
            SealedTable::Pixels => ["access_token", "api_secret"],
            SealedTable::AdsAccounts => ["access_token", "refresh_token"],
            SealedTable::Integrations => ["secret", ""],
        }
    }
}

/// Up to `limit` rows after id `after` (in id order) with a sealed field that does not start with
/// `current_prefix`.
pub async fn stale_sealed(
    db: &D1Database,
    table: SealedTable,
    current_prefix: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<SealedRow>, ApiError> {
    let (t, id, a, b, extra) = table.shape();
    let sql = format!(
        "SELECT {id} AS id, tenant_id, {a} AS first, {b} AS second{extra} FROM {t}
         WHERE {id} > ?1 AND (({a} IS NOT NULL AND substr({a}, 1, ?3) != ?2)
                         OR ({b} IS NOT NULL AND substr({b}, 1, ?3) != ?2))
         ORDER BY {id} LIMIT ?4"
    );
    all(
        db,
        &sql,
        &[
            s(after),
            s(current_prefix),
            n(current_prefix.len() as i64),
            n(limit),
        ],
    )
    .await
}

/// Replaces sealed field `which` (0 or 1) of row `id` with `new`, only if it still holds `old`
/// (a credential written meanwhile is newer and stays).
pub fn reseal_statement(
    db: &D1Database,
    table: SealedTable,
    which: usize,
    id: &str,
    old: &str,
    new: &str,
) -> Result<D1PreparedStatement, ApiError> {
    let (t, key, a, b, _) = table.shape();
    let column = if which == 0 { a } else { b };
    stmt(
        db,
        &format!("UPDATE {t} SET {column} = ?3 WHERE {key} = ?1 AND {column} = ?2"),
        &[s(id), s(old), s(new)],
    )
}
