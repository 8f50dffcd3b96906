-- Who blocked whom. A block is one-way as a row but both ways in effect:
-- neither may follow the other, see the other's posts, message the other
-- or be notified of the other's actions. The primary key makes a second
-- block a no-op; the index on blocked serves "did anyone I face block me"
-- (Blocked asks both directions, the search reader joins on it).
CREATE TABLE blocks (
    blocker_id uuid        NOT NULL,
    blocked_id uuid        NOT NULL,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    CONSTRAINT blocks_blocker_fkey FOREIGN KEY (blocker_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT blocks_blocked_fkey FOREIGN KEY (blocked_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT blocks_not_self CHECK (blocker_id <> blocked_id)
);

CREATE INDEX blocks_blocked ON blocks (blocked_id, blocker_id);

-- The blocker's list, newest first, paged by (created_at, blocked_id).
CREATE INDEX blocks_blocker_time ON blocks (blocker_id, created_at DESC, blocked_id DESC);
