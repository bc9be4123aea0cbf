-- Every visitor erase (DELETE /api/v1/tracking/consent/{visitor}) leaves an audit row, written in
-- the erase's own transaction: who asked (the tenant's api key, or the visitor's own browser with
-- the site key and the gateway's first-party visitor cookie) and when. The visitor id is kept only
-- as its SHA-256 (hex), enough to answer "was this visitor erased, when, by whom".
CREATE TABLE erasure_audit (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  tenant_id    TEXT NOT NULL,
  visitor_hash TEXT NOT NULL,
  actor        TEXT NOT NULL CHECK (actor IN ('api_key', 'visitor')),
  erased_at    INTEGER NOT NULL
);
CREATE INDEX erasure_audit_tenant ON erasure_audit(tenant_id, erased_at);
