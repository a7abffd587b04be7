"""The history checker of the cluster tests: what clients were told (sends and their
acknowledgements, deliveries) against what the store holds, checked for the invariants
a cluster must keep whatever happens to its nodes:

  acknowledged-stored     every acknowledged send is stored, with the seq it was acknowledged with
  client-id-once          no client message id is stored twice (per sender)
  gap-free                the seqs of a conversation are 1..n without a gap
  real-time-order         a send acknowledged before another one started has the lower seq
  delivery-order          each client's deliveries of a conversation have increasing seqs
  delivery-matches-store  a delivered seq is the stored message of that seq, and after replay a
                          client has every stored seq of the conversations it replayed
  epoch-order             no row was committed under an epoch older than a takeover: along a
                          conversation's seqs the epochs never go down, and none is above the
                          epoch key_owners holds now

A test records into a History (thread-safe; times from time.monotonic) and reads the
store's rows (cluster.Cluster.stored_messages), then calls check(), which returns every
violation found; assert_valid() fails a test with all of them.
"""
import collections
import threading
import time

Send = collections.namedtuple("Send", "sender conversation client_id start end seq")
Delivery = collections.namedtuple("Delivery", "client conversation seq message_id")
Row = collections.namedtuple("Row", "conversation seq sender client_id message_id epoch")
Violation = collections.namedtuple("Violation", "invariant detail")

INVARIANTS = ("acknowledged-stored", "client-id-once", "gap-free", "real-time-order",
              "delivery-order", "delivery-matches-store", "epoch-order")


class History:
    """Sends and deliveries as clients saw them. A send is started, then acknowledged with
    a seq or left unacknowledged (an error, a timeout, a dropped socket: it may or may not
    be stored)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.sends = []
        self.deliveries = []
        self.replayed = collections.defaultdict(set)

    def started(self, sender, conversation, client_id):
        """Returns a handle for acknowledged()."""
        return (sender, conversation, client_id, time.monotonic())

    def acknowledged(self, handle, seq):
        self._add_send(handle, seq)

    def unacknowledged(self, handle):
        self._add_send(handle, None)

    def _add_send(self, handle, seq):
        with self._lock:
            self.sends.append(Send(*handle, time.monotonic(), seq))

    def delivered(self, client, conversation, seq, message_id):
        with self._lock:
            self.deliveries.append(Delivery(client, conversation, seq, message_id))

    def replay_done(self, client, conversation):
        """`client` has replayed `conversation` up to the end: from now on its deliveries
        of it must hold every stored seq."""
        with self._lock:
            self.replayed[client].add(conversation)


def check(history, rows, owner_epochs=None, epochs=False):
    """Every violation of `history` against the store's `rows` (Row tuples). `epochs`: the
    rows must carry epochs and epoch-order is checked, against `owner_epochs`
    ({conversation: epoch in key_owners}) where given."""
    out = []
    by_conversation = collections.defaultdict(list)
    for row in sorted(rows, key=lambda r: (r.conversation, r.seq)):
        by_conversation[row.conversation].append(row)
    stored = {(r.conversation, r.seq): r for r in rows}
    by_client_id = collections.defaultdict(list)
    for r in rows:
        if r.client_id is not None:
            by_client_id[(r.conversation, r.sender, r.client_id)].append(r)
    acked = [s for s in history.sends if s.seq is not None]

    for s in acked:
        found = by_client_id.get((s.conversation, s.sender, s.client_id), [])
        if not found:
            out.append(Violation("acknowledged-stored",
                                 f"{s.client_id} of {s.sender} acknowledged as seq {s.seq} in "
                                 f"{s.conversation} is not stored"))
        elif all(r.seq != s.seq for r in found):
            out.append(Violation("acknowledged-stored",
                                 f"{s.client_id} acknowledged as seq {s.seq} in {s.conversation} "
                                 f"is stored as seq {[r.seq for r in found]}"))

    seen = collections.defaultdict(list)
    for r in rows:
        if r.client_id is not None:
            seen[(r.sender, r.client_id)].append((r.conversation, r.seq))
    for (sender, client_id), where in seen.items():
        if len(where) > 1:
            out.append(Violation("client-id-once",
                                 f"{client_id} of {sender} stored {len(where)} times: {where}"))

    for conversation, items in by_conversation.items():
        seqs = [r.seq for r in items]
        if seqs != list(range(1, len(seqs) + 1)):
            missing = sorted(set(range(1, max(seqs) + 1)) - set(seqs))
            out.append(Violation("gap-free", f"{conversation}: seqs {seqs[:5]}... of "
                                 f"{len(seqs)}, missing {missing[:10]}"))

    out += _real_time_order(acked)
    out += _deliveries(history, stored, by_conversation)
    if epochs:
        out += _epochs(by_conversation, owner_epochs or {})
    return out


def _real_time_order(acked):
    out = []
    per = collections.defaultdict(list)
    for s in acked:
        per[s.conversation].append(s)
    for conversation, sends in per.items():
        by_end = sorted(sends, key=lambda s: s.end)
        highest, i = None, 0          # the highest-seq send that ended before the current start
        for s in sorted(sends, key=lambda s: s.start):
            while i < len(by_end) and by_end[i].end < s.start:
                if highest is None or by_end[i].seq > highest.seq:
                    highest = by_end[i]
                i += 1
            if highest is not None and highest.seq >= s.seq:
                out.append(Violation("real-time-order",
                                     f"{conversation}: {highest.client_id} (seq {highest.seq}) "
                                     f"was acknowledged before {s.client_id} started, which got "
                                     f"seq {s.seq}"))
    return out


def _deliveries(history, stored, by_conversation):
    out = []
    per = collections.defaultdict(list)
    for d in history.deliveries:
        per[(d.client, d.conversation)].append(d)
    for (client, conversation), items in per.items():
        seqs = [d.seq for d in items]
        for a, b in zip(seqs, seqs[1:]):
            if b <= a:
                out.append(Violation("delivery-order",
                                     f"{client} got seq {b} after seq {a} in {conversation}"))
                break
        for d in items:
            row = stored.get((conversation, d.seq))
            if row is None or row.message_id != d.message_id:
                out.append(Violation("delivery-matches-store",
                                     f"{client} got {d.message_id} as seq {d.seq} of {conversation}; "
                                     f"the store has {row.message_id if row else 'nothing'}"))
    for client, conversations in history.replayed.items():
        for conversation in conversations:
            got = {d.seq for d in per.get((client, conversation), [])}
            missing = [r.seq for r in by_conversation.get(conversation, []) if r.seq not in got]
            if missing:
                out.append(Violation("delivery-matches-store",
                                     f"{client} replayed {conversation} but misses seqs "
                                     f"{missing[:10]} ({len(missing)})"))
    return out


def _epochs(by_conversation, owner_epochs):
    out = []
    for conversation, items in by_conversation.items():
        if any(r.epoch is None for r in items):
            out.append(Violation("epoch-order", f"{conversation}: rows without an epoch in the "
                                 "store, so a stale owner's commits cannot be told apart"))
            continue
        for a, b in zip(items, items[1:]):
            if b.epoch < a.epoch:
                out.append(Violation("epoch-order",
                                     f"{conversation}: seq {b.seq} committed under epoch {b.epoch} "
                                     f"after seq {a.seq} under epoch {a.epoch}"))
        current = owner_epochs.get(conversation)
        if current is not None and items[-1].epoch > current:
            out.append(Violation("epoch-order",
                                 f"{conversation}: seq {items[-1].seq} under epoch "
                                 f"{items[-1].epoch}, above the owner's epoch {current}"))
    return out


def assert_valid(test, history, rows, **kwargs):
    """Fails `test` with every violation; returns the number of acknowledged sends."""
    violations = check(history, rows, **kwargs)
    test.assertEqual([], [f"{v.invariant}: {v.detail}" for v in violations[:50]],
                     f"{len(violations)} violations")
    return sum(1 for s in history.sends if s.seq is not None)
