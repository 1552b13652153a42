-- Migration 2: provenance look-ups by source (archive sources / lines / forget, the run summary) use an
-- index instead of scanning every message once per source.
CREATE INDEX IF NOT EXISTS lw_messages_source ON lw_messages (source);
CREATE INDEX IF NOT EXISTS lw_quarantine_source ON lw_quarantine (source);
