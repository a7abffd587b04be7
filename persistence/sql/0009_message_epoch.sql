-- 0009_message_epoch: each message keeps the epoch of the claim it was committed under
-- (docs/cluster.md, Ownership), so that the store itself shows that no row was
-- committed by an owner that had been taken over: along a conversation's seqs the
-- epochs never go down. 0 for a message committed outside a cluster (no claim). A
-- constant default: adding the column rewrites nothing.
ALTER TABLE messages ADD COLUMN epoch bigint NOT NULL DEFAULT 0 CHECK (epoch >= 0);
