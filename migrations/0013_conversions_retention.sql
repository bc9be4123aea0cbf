-- Retention of the conversions' tables (migration 0010, edge::store::d1::retention): the daily
-- job deletes by age, through these indexes instead of a scan of each table.
CREATE INDEX conversions_age ON conversions(received_at);
CREATE INDEX refunds_age ON refunds(refunded_at);
CREATE INDEX leads_age ON leads(received_at);
CREATE INDEX touchpoints_age ON touchpoints(at);
CREATE INDEX conversion_facts_age ON conversion_facts(at);
CREATE INDEX webhook_receipts_age ON webhook_receipts(received_at);
