-- 0003: detections become events; captures name themselves so events and
-- detection errors can refer to them.

ALTER TABLE captures ADD COLUMN capture_key TEXT;        -- camera-incarnation-sequence, unique within the run
ALTER TABLE captures ADD COLUMN detection TEXT;          -- NULL: not examined (yet); else what the detector said or why it could not
CREATE INDEX captures_key ON captures(run_id, capture_key);

CREATE TABLE events (
    id          INTEGER PRIMARY KEY,         -- microseconds since the epoch at creation: unique across runs
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    camera      TEXT NOT NULL,
    subnet      TEXT NOT NULL,
    at          TEXT NOT NULL,               -- the first detection
    last_seen   TEXT NOT NULL,               -- the last detection merged into it
    label       TEXT NOT NULL,               -- motion, person, car ...
    score       REAL NOT NULL,               -- the highest score of its detections
    x_min       INTEGER NOT NULL,            -- box of the first detection, in snapshot pixels
    y_min       INTEGER NOT NULL,
    x_max       INTEGER NOT NULL,
    y_max       INTEGER NOT NULL,
    detections  INTEGER NOT NULL DEFAULT 1,
    detector    TEXT NOT NULL,               -- motion, http
    capture_key TEXT NOT NULL,               -- the capture whose frame opened it
    snapshot    BLOB,                        -- that frame, JPEG
    snapshot_width  INTEGER,
    snapshot_height INTEGER
);
CREATE INDEX events_at ON events(at);
CREATE INDEX events_camera_at ON events(camera, at);
