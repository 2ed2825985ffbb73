-- 0004: alerts an operator sees, one row per firing spell of a rule on a subject.

CREATE TABLE alerts (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    rule        TEXT NOT NULL,               -- process_budget_exceeded, unowned_process, camera_failing, cycle_overrun, go2rtc_unreachable, detector_unreachable, record_write_failing
    subject     TEXT NOT NULL,               -- the camera, subnet, service or process it is about
    state       TEXT NOT NULL,               -- firing, resolved
    first_seen  TEXT NOT NULL,
    last_seen   TEXT NOT NULL,
    resolved_at TEXT,
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alerts_state ON alerts(state, last_seen);
CREATE INDEX alerts_rule_subject ON alerts(run_id, rule, subject);
