-- 0007: the patrol through go2rtc and the connections camvisor does not own.

ALTER TABLE go2rtc_streams ADD COLUMN purpose TEXT;                 -- patrol (a cycle's source) or lease (a live view)
ALTER TABLE process_samples ADD COLUMN slots_external INTEGER NOT NULL DEFAULT 0; -- camera connections go2rtc holds for streams not camvisor's
