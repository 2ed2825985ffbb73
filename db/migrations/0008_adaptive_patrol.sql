-- 0008: the adaptive patrol: machine-wide admission, breakers, busy cameras.

ALTER TABLE captures ADD COLUMN waited_ms INTEGER NOT NULL DEFAULT 0;   -- waited for the machine-wide admission before its process started
ALTER TABLE cycles ADD COLUMN cameras_backoff INTEGER NOT NULL DEFAULT 0; -- cameras skipped because their breaker was open
ALTER TABLE cycles ADD COLUMN overrun_reason TEXT;                    -- why it overran: admission, dead cameras, slow cameras
ALTER TABLE cameras ADD COLUMN breaker TEXT NOT NULL DEFAULT 'closed';  -- closed, or open (failing: skipped but for probes)
ALTER TABLE cameras ADD COLUMN next_probe_at TEXT;                    -- while open: when the patrol tries it next
ALTER TABLE cameras ADD COLUMN busy INTEGER NOT NULL DEFAULT 0;        -- 1 while it answers busy alerts.camera_busy_after cycles in a row
ALTER TABLE cameras ADD COLUMN state_at TEXT;                         -- when breaker, next_probe_at or busy last changed
