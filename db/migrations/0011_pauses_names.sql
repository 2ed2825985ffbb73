-- 0010: cameras' display names, and maintenance pauses.

ALTER TABLE cameras ADD COLUMN name TEXT NOT NULL DEFAULT ''; -- cameras[].name; '' when none (the id is shown)
ALTER TABLE cycles ADD COLUMN cameras_paused INTEGER NOT NULL DEFAULT 0; -- cameras not visited: paused or disabled

CREATE TABLE camera_pauses (
    id         INTEGER PRIMARY KEY,          -- unique across runs: microseconds when it was asked, kept increasing
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, -- the run it was asked in
    camera     TEXT NOT NULL,
    who        TEXT NOT NULL,                -- session <id>, token, mqtt
    why        TEXT NOT NULL DEFAULT '',
    started_at TEXT NOT NULL,
    until      TEXT NOT NULL,                -- when it ends by itself (a later pause request moves it)
    ended_at   TEXT,                         -- NULL while it lasts, across restarts
    ended_how  TEXT,                         -- resumed, expired
    ended_by   TEXT                          -- who resumed it; NULL when it expired
);
CREATE INDEX camera_pauses_camera ON camera_pauses(camera, started_at);
CREATE INDEX camera_pauses_open ON camera_pauses(ended_at) WHERE ended_at IS NULL;
