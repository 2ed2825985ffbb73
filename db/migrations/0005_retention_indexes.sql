-- 0005: indexes for the retention job's scans, and a stop reason for
-- processes whose camvisor died (closed when the next run starts).

CREATE INDEX go2rtc_streams_registered ON go2rtc_streams(registered_at);
CREATE INDEX service_health_at ON service_health(at);
CREATE INDEX runs_stopped ON runs(stopped_at);
CREATE INDEX processes_open ON processes(run_id, ended_at);
