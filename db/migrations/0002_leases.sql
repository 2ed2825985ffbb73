-- 0002: live views through go2rtc.

CREATE TABLE leases (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    lease_id    INTEGER NOT NULL,            -- the camera's lease number within the run
    camera      TEXT NOT NULL,
    subnet      TEXT NOT NULL,
    stream      TEXT NOT NULL,               -- the go2rtc stream name
    granted_at  TEXT NOT NULL,
    until       TEXT NOT NULL,               -- the playback end, as last extended
    extensions  INTEGER NOT NULL DEFAULT 0,
    granted_for TEXT NOT NULL DEFAULT '',    -- detection, operator
    released_at TEXT,                        -- when its slot was freed; NULL while live
    reason      TEXT,                        -- why it ended: expired, released: ..., camera stopped: ...
    UNIQUE (run_id, camera, lease_id)
);
CREATE INDEX leases_granted ON leases(granted_at);

CREATE TABLE go2rtc_streams (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    stream           TEXT NOT NULL,
    camera           TEXT NOT NULL DEFAULT '',
    subnet           TEXT NOT NULL DEFAULT '',
    registered_at    TEXT,                   -- NULL for a stream found left by an earlier run
    removed_at       TEXT,                   -- confirmed gone from go2rtc's listing
    removal_reason   TEXT,                   -- lease expired, left by an earlier run, shutdown
    removal_attempts INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT                    -- the last failed removal, e.g. still listed after DELETE
);
CREATE INDEX go2rtc_streams_stream ON go2rtc_streams(run_id, stream);

CREATE TABLE service_health (
    id      INTEGER PRIMARY KEY,
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    at      TEXT NOT NULL,
    service TEXT NOT NULL,                   -- go2rtc, detector
    healthy INTEGER NOT NULL,                -- 0: became unreachable, 1: recovered
    error   TEXT NOT NULL DEFAULT ''
);
