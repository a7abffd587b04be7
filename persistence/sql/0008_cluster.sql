-- 0008_cluster: who runs and who owns what, when Tandem runs as a cluster
-- (docs/cluster.md). PostgreSQL is the one authority on both.
--
-- cluster_nodes: one row per node, its lease renewed against the database clock. A
-- node is live while lease_expires_at > now(). incarnation is new at every start, so a
-- restarted node never inherits what its previous run owned without claiming it again.
CREATE TABLE cluster_nodes (
    node_id          text COLLATE "C" PRIMARY KEY CHECK (char_length(node_id) BETWEEN 1 AND 128),
    incarnation      bigint      NOT NULL,
    address          text        NOT NULL CHECK (char_length(address) <= 512),
    started_at       timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NOT NULL
);

-- key_owners: the owner of each user ('u') and conversation ('c') key that a node has
-- activated, with an epoch (a fencing token) that grows by one at every claim. A node
-- may claim a key it owns already or whose owner's lease has ended; every durable
-- write of the key carries the epoch it was claimed with and is refused once the epoch
-- has moved on, so an owner that was taken over can never commit again.
CREATE TABLE key_owners (
    kind        "char"           NOT NULL CHECK (kind IN ('u', 'c')),
    key         text COLLATE "C" NOT NULL,
    node_id     text COLLATE "C" NOT NULL,
    incarnation bigint           NOT NULL,
    epoch       bigint           NOT NULL CHECK (epoch > 0),
    PRIMARY KEY (kind, key)
);
-- The keys of one node (release on drain, the operator's view).
CREATE INDEX key_owners_node_idx ON key_owners (node_id, incarnation);
