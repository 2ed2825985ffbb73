-- 0010: cluster mode (actors/CLUSTER.md). Each node keeps its own record;
-- a row a camera's actor wrote says which node wrote it and under which
-- epoch of the camera's ownership (the etcd revision of its key), so that
-- several nodes' files merge into one report (camvisor db report --db a.db --db b.db).

ALTER TABLE runs ADD COLUMN node TEXT; -- cluster.node of the run; NULL on a single node

CREATE TABLE ownership (
    id               INTEGER PRIMARY KEY,
    run_id           INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    camera           TEXT NOT NULL,
    node             TEXT NOT NULL,
    epoch            INTEGER NOT NULL,   -- the etcd revision of the camera's key
    acquired_at      TEXT NOT NULL,
    takeover_wait_ms INTEGER NOT NULL,   -- the wait before its actor started; 0 after a clean hand-over
    released_at      TEXT,               -- NULL while held
    release          TEXT,               -- released (cleanly, with a hand-over), fenced (lease maybe lost), lost (key gone), unclean
    reason           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ownership_open ON ownership(run_id, camera, released_at);
CREATE INDEX ownership_acquired ON ownership(acquired_at);

ALTER TABLE captures ADD COLUMN node TEXT;     -- the node that took it; NULL on a single node
ALTER TABLE captures ADD COLUMN epoch INTEGER; -- the camera's epoch then; NULL on a single node
ALTER TABLE processes ADD COLUMN node TEXT;
ALTER TABLE processes ADD COLUMN epoch INTEGER;
ALTER TABLE leases ADD COLUMN node TEXT;
ALTER TABLE leases ADD COLUMN epoch INTEGER;
ALTER TABLE events ADD COLUMN node TEXT;
ALTER TABLE events ADD COLUMN epoch INTEGER;
