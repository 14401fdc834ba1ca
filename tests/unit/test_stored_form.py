"""The stored form of table rows (streams/tables/stored_form.py): every field of a full row comes back equal, without
field names in the bytes; one field can be read alone; a field added last with a default reads older rows."""

from __future__ import annotations

import msgspec
import pytest

from models.profile import SourceRef
from models.user_row import UserRow, fold_click_into_row, fold_insight_into_row, remember_sessions
from streams.tables.stored_form import StoredCodec, field_decoder
from tests.unit.test_profile import make_insight, random_events


def full_row() -> UserRow:
    """A row with every container filled: cart lines, prices, history, a negative review, sessions."""
    row: UserRow | None = None
    for kind, event, source in random_events(300, seed=12):
        if kind == "insight":
            row = fold_insight_into_row(row, event.to_dict(), source) or row
        else:
            folded = fold_click_into_row(row, event, source)
            if folded is not None:
                row, closed = folded
                if closed is not None:
                    remember_sessions(row, [closed])
    assert row is not None
    row = fold_insight_into_row(row, make_insight("r-neg", sentiment="negative", score=-0.9, at=2e9).to_dict(),
                                SourceRef("review-insights", 0, 10_000)) or row
    row.published_at, row.unpublished = row.profile.last_seen, True
    return row


def test_a_full_row_comes_back_equal_in_fewer_bytes_and_a_new_users_in_a_third() -> None:
    row = full_row()
    assert row.profile.cart and row.profile.sentiment_history and row.profile.last_negative_review
    assert row.session is not None and row.published_sessions
    codec = StoredCodec(UserRow)
    stored = codec.encode(row)
    assert codec.decode(stored) == row
    assert b"category_interest" not in stored and b"folded_offsets" not in stored
    assert len(stored) < len(msgspec.msgpack.encode(row)) - 800, "the field names, nested ones included"
    [(_, click, source)] = [e for e in random_events(5, seed=3) if e[0] == "click"][:1]
    folded = fold_click_into_row(None, click, source)
    assert folded is not None
    new_user = folded[0]
    assert codec.decode(codec.encode(new_user)) == new_user
    assert len(codec.encode(new_user)) < len(msgspec.msgpack.encode(new_user)) / 2.5


def test_one_field_is_read_without_the_others() -> None:
    row = full_row()
    stored = StoredCodec(UserRow).encode(row)
    assert field_decoder(UserRow, "session")(stored) == row.session
    assert field_decoder(UserRow, "published_sessions")(stored) == row.published_sessions
    with pytest.raises(ValueError, match="no field 'nope'"):
        field_decoder(UserRow, "nope")


def test_a_field_added_last_with_a_default_reads_rows_stored_before_it() -> None:
    class Before(msgspec.Struct):
        user_id: str
        orders: int

    class After(msgspec.Struct):
        user_id: str
        orders: int
        language: str | None = None

    old = StoredCodec(Before).encode(Before("u1", 3))
    assert StoredCodec(After).decode(old) == After("u1", 3, None)
