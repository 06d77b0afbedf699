"""What an import run remembers of every record and object, in a compact form: the keys must tell
apart exactly what the ids tell apart (a record taken for one already seen would be lost)."""

from __future__ import annotations

import secrets
import sys

from vault.ids import media_id, record_id
from vault.importing.run import object_key, seen_key


def test_usual_record_ids_become_numbers_and_stay_distinct() -> None:
    key = secrets.token_bytes(32)
    ids = [record_id(key, kind, "facebook", str(i)) for kind in ("post", "rating") for i in range(2000)]
    ids += [media_id(secrets.token_hex(32)) for _ in range(2000)]
    keys = [seen_key(rid) for rid in ids]
    assert all(isinstance(k, int) for k in keys)
    assert len(set(keys)) == len(set(ids)) == 6000
    assert sys.getsizeof(keys[0]) < sys.getsizeof(ids[0])


def test_ids_that_differ_in_one_place_have_different_keys() -> None:
    base = "p_" + "0" * 24
    others = ["r_" + "0" * 24, "p_" + "0" * 23 + "1", "p_1" + "0" * 23, "m_" + "0" * 24]
    assert len({seen_key(rid) for rid in [base, *others]}) == 5


def test_ids_of_another_form_are_kept_as_they_are() -> None:
    # int() would take these (a sign, "0x", "_" between digits, spaces, capitals): kept as
    # strings, none can meet the number of a usual id.
    odd = ["p_0x00000000000000000000ab", "p_" + "0" * 11 + "_" + "0" * 12, "p_ " + "0" * 23,
           "p_" + "A" * 24, "p_" + "0" * 25, "p_abc", "post-1", ""]
    assert [seen_key(rid) for rid in odd] == odd
    assert seen_key("p_" + "0" * 24) == ord("p")


def test_object_keys_are_the_first_64_bits() -> None:
    oid = "0123456789abcdef" + "f" * 48
    assert object_key(oid) == 0x0123456789ABCDEF
