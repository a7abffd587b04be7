-- 0010_owned_keys_by_node: the keys one node owns, by kind and in key order, straight
-- from the index. Each node pages through its own keys to release those that no actor
-- of its holds any more (docs/cluster.md, Ownership: the sweep); with the old index
-- every page sorted all of the node's rows.
DROP INDEX key_owners_node_idx;
CREATE INDEX key_owners_node_idx ON key_owners (node_id, incarnation, kind, key);
