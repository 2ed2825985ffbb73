-- 0006: every restart a supervisor decided (a camera after a crash or an
-- operator's restart, an ffmpeg child retried, a service after a panic).

CREATE TABLE restarts (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,               -- the restarted actor's path
    kind    TEXT NOT NULL,               -- camera, ffmpeg, subnet, gateway ...
    reason  TEXT NOT NULL                -- why, passwords as ***
);
CREATE INDEX restarts_at ON restarts(at);
