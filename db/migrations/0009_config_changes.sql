-- 0009: reloads of the configuration, and the cameras they start and stop.

CREATE TABLE config_changes (
    id             INTEGER PRIMARY KEY,
    run_id         INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    at             TEXT NOT NULL,
    who            TEXT NOT NULL,            -- signal SIGHUP, api <remote address>
    outcome        TEXT NOT NULL,            -- applied, unchanged, rejected, incomplete
    error          TEXT NOT NULL DEFAULT '', -- why rejected or incomplete, passwords as ***
    added          TEXT NOT NULL DEFAULT '', -- camera ids started, comma-separated
    removed        TEXT NOT NULL DEFAULT '', -- camera ids stopped
    changed        TEXT NOT NULL DEFAULT '', -- camera ids restarted with new settings
    restart_needed TEXT NOT NULL DEFAULT '', -- sections changed in the file that apply at the next start
    detail         TEXT NOT NULL DEFAULT '', -- one change a line, passwords as ***, secrets as ${NAME}
    config         TEXT                      -- the configuration running after it, redacted; NULL when nothing changed
);
CREATE INDEX config_changes_at ON config_changes(at);

ALTER TABLE cameras ADD COLUMN added_at TEXT;   -- when a reload started it; NULL: configured at the run's start
ALTER TABLE cameras ADD COLUMN removed_at TEXT; -- when a reload stopped it (or restarted it with new settings)
