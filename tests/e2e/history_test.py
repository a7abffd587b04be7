"""Unit tests of the history checker (history.py): a history that keeps every invariant
passes, and for each invariant a history that breaks it (and only it) is caught."""
import unittest

from history import INVARIANTS, Delivery, History, Row, Send, check

C1, C2 = "c1", "c2"


def good():
    """Two conversations; alice's sends in c1 one after another, bob's in c2 overlapping;
    carol got c1 live and replayed it; epochs move from 1 to 2 at a takeover in c1."""
    h = History()
    h.sends = [Send("alice", C1, "a1", 0.0, 1.0, 1),
               Send("alice", C1, "a2", 2.0, 3.0, 2),
               Send("alice", C1, "a3", 4.0, 9.0, None),      # no answer: may be stored or not
               Send("alice", C1, "a4", 10.0, 11.0, 4),
               Send("bob", C2, "b1", 0.0, 5.0, 2),           # overlapping sends: any order
               Send("bob", C2, "b2", 1.0, 4.0, 1)]
    h.deliveries = [Delivery("carol", C1, 1, "m1"), Delivery("carol", C1, 2, "m2"),
                    Delivery("carol", C1, 3, "m3"), Delivery("carol", C1, 4, "m4"),
                    Delivery("dave", C2, 2, "n2")]
    h.replayed["carol"].add(C1)
    rows = [Row(C1, 1, "alice", "a1", "m1", 1), Row(C1, 2, "alice", "a2", "m2", 1),
            Row(C1, 3, "alice", "a3", "m3", 2), Row(C1, 4, "alice", "a4", "m4", 2),
            Row(C2, 1, "bob", "b2", "n1", 1), Row(C2, 2, "bob", "b1", "n2", 1)]
    return h, rows


def replace(items, index, **changes):
    items[index] = items[index]._replace(**changes)


class HistoryCheckerTest(unittest.TestCase):

    def assert_caught(self, invariant, h, rows, **kwargs):
        found = check(h, rows, epochs=True, **kwargs)
        self.assertTrue(found, f"{invariant}: the broken history passed")
        self.assertEqual({v.invariant for v in found}, {invariant}, found)

    def test_a_good_history_passes(self):
        h, rows = good()
        self.assertEqual(check(h, rows, owner_epochs={C1: 2, C2: 1}, epochs=True), [])

    def test_every_invariant_has_a_case(self):
        cases = {name[len("test_catches_"):].replace("_", "-")
                 for name in dir(self) if name.startswith("test_catches_")}
        self.assertEqual(cases, set(INVARIANTS))

    def test_catches_acknowledged_stored(self):
        h, rows = good()
        replace(h.sends, 4, seq=1)          # b1 and b2 acknowledged with each other's seqs
        replace(h.sends, 5, seq=2)
        self.assert_caught("acknowledged-stored", h, rows)
        h, rows = good()
        h.sends.append(Send("alice", C1, "a9", 12.0, 13.0, 5))   # never stored at all
        self.assert_caught("acknowledged-stored", h, rows)

    def test_catches_client_id_once(self):
        h, rows = good()
        rows.append(Row(C1, 5, "alice", "a4", "m5", 2))
        h.deliveries.append(Delivery("carol", C1, 5, "m5"))
        self.assert_caught("client-id-once", h, rows)

    def test_catches_gap_free(self):
        h, rows = good()
        replace(rows, 5, seq=3)             # c2: 1, 3
        h.deliveries.pop()                   # (dave's seq 2 would no longer match)
        h.sends[4] = h.sends[4]._replace(seq=3)
        self.assert_caught("gap-free", h, rows)

    def test_catches_real_time_order(self):
        h, rows = good()
        # a2 completed (end 3.0) before a4 started (10.0) yet a4 got the lower seq
        replace(h.sends, 1, seq=4)
        replace(h.sends, 3, seq=2)
        replace(rows, 1, client_id="a4")
        replace(rows, 3, client_id="a2")
        self.assert_caught("real-time-order", h, rows)

    def test_catches_delivery_order(self):
        h, rows = good()
        h.deliveries[1], h.deliveries[2] = h.deliveries[2], h.deliveries[1]
        self.assert_caught("delivery-order", h, rows)

    def test_catches_delivery_matches_store(self):
        h, rows = good()
        replace(h.deliveries, 4, message_id="other")      # a seq delivered as another message
        self.assert_caught("delivery-matches-store", h, rows)
        h, rows = good()
        del h.deliveries[2]                                # replayed, yet seq 3 never arrived
        self.assert_caught("delivery-matches-store", h, rows)

    def test_catches_epoch_order(self):
        h, rows = good()
        replace(rows, 3, epoch=1)           # seq 4 committed by the owner taken over at seq 3
        self.assert_caught("epoch-order", h, rows)
        h, rows = good()
        self.assert_caught("epoch-order", h, rows, owner_epochs={C1: 1})
        h, rows = good()
        replace(rows, 0, epoch=None)        # no epochs: never passes silently
        self.assert_caught("epoch-order", h, rows)


if __name__ == "__main__":
    unittest.main()
