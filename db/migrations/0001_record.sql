-- 0001: the incident record. Times are UTC text, 'YYYY-MM-DDTHH:MM:SS.SSSZ',
-- so they sort, compare and read as they are in the sqlite3 tool.

CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    run_key      TEXT NOT NULL UNIQUE,      -- CAMVISOR_RUN of this run's processes
    started_at   TEXT NOT NULL,
    stopped_at   TEXT,                       -- NULL while running, or if it died
    pid          INTEGER NOT NULL,
    version      TEXT NOT NULL,
    hostname     TEXT NOT NULL DEFAULT '',
    config       TEXT NOT NULL,              -- as loaded, passwords as ***
    stop_reason  TEXT,                       -- SIGTERM, interrupt, ... or 'unclean: ...'
    rows_dropped INTEGER NOT NULL DEFAULT 0  -- record rows lost to a full queue
);

CREATE TABLE cameras (
    run_id          INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    subnet          TEXT NOT NULL,
    url             TEXT NOT NULL,           -- password as ***
    max_connections INTEGER NOT NULL,
    PRIMARY KEY (run_id, id)
);

CREATE TABLE cycles (
    id                INTEGER PRIMARY KEY,
    run_id            INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    subnet            TEXT NOT NULL,
    number            INTEGER NOT NULL,
    started_at        TEXT NOT NULL,
    ended_at          TEXT NOT NULL,
    duration_ms       INTEGER NOT NULL,
    interval_ms       INTEGER NOT NULL,
    cameras_ok        INTEGER NOT NULL,
    cameras_failed    INTEGER NOT NULL,
    cameras_timed_out INTEGER NOT NULL,      -- timeouts plus cameras skipped at the deadline
    cameras_skipped   INTEGER NOT NULL,
    overran           INTEGER NOT NULL,      -- 1 when not every camera answered within the interval
    UNIQUE (run_id, subnet, number)
);
CREATE INDEX cycles_started ON cycles(started_at);

CREATE TABLE captures (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    camera      TEXT NOT NULL,
    subnet      TEXT NOT NULL,
    cycle       INTEGER,                     -- the subnet's cycle number; NULL when an operator asked
    reason      TEXT NOT NULL,               -- patrol, operator
    started_at  TEXT NOT NULL,
    ended_at    TEXT NOT NULL,
    duration_ms INTEGER NOT NULL,
    outcome     TEXT NOT NULL,               -- ok, timeout, exit, signal, spawn_error, no_slot, empty, stopped, skipped
    via         TEXT NOT NULL,               -- ffmpeg, go2rtc
    bytes       INTEGER NOT NULL,
    attempts    INTEGER NOT NULL,            -- processes started for it
    os_pid      INTEGER,                     -- the last process that served it
    error       TEXT NOT NULL DEFAULT ''     -- passwords as ***
);
CREATE INDEX captures_camera_time ON captures(camera, started_at);
CREATE INDEX captures_started ON captures(started_at);

CREATE TABLE processes (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    os_pid      INTEGER NOT NULL,
    camera      TEXT NOT NULL,
    subnet      TEXT NOT NULL,
    owner       TEXT NOT NULL,               -- the owning actor's path
    purpose     TEXT NOT NULL,               -- snapshot
    argv        TEXT NOT NULL,               -- JSON array, passwords as ***
    started_at  TEXT NOT NULL,
    deadline    TEXT,
    ended_at    TEXT,                        -- NULL while it runs
    duration_ms INTEGER,
    exit_code   INTEGER,                     -- -1 when a signal ended it
    signal      TEXT,                        -- SIGTERM, SIGKILL ... when a signal ended it
    stop_reason TEXT,                        -- done, timeout, parent_stopped, restart, shutdown, reaped
    cpu_ms      INTEGER,
    stderr_tail TEXT NOT NULL DEFAULT '',    -- last lines, passwords as ***
    UNIQUE (run_id, os_pid, started_at)
);
CREATE INDEX processes_camera_time ON processes(camera, started_at);
CREATE INDEX processes_started ON processes(started_at);

CREATE TABLE process_samples (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    at         TEXT NOT NULL,
    camera     TEXT NOT NULL,
    processes  INTEGER NOT NULL,             -- live ffmpeg processes of this camera as /proc shows them
    slots_held INTEGER NOT NULL,             -- slots the camera actor holds (ffmpeg + leases)
    max_connections INTEGER NOT NULL
);
CREATE INDEX process_samples_at ON process_samples(at);
CREATE INDEX process_samples_camera_at ON process_samples(camera, at);
