-- Per-pixel event allow-list (JSON array of canonical or custom event names; empty = default).
ALTER TABLE pixels ADD COLUMN event_names TEXT NOT NULL DEFAULT '[]';
