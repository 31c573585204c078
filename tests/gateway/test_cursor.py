from __future__ import annotations

import json

import pytest

from services.gateway.cursor import Cursor, CursorError
from services.gateway.feed import event_frame
from services.gateway.hub import LiveEvent


def test_a_cursor_survives_its_round_trip_and_only_moves_forward() -> None:
    cursor = Cursor({0: 5, 3: -1})
    cursor.advance(0, 4)
    cursor.advance(3, 9)
    again = Cursor.decode(cursor.encode())
    assert again.offsets == {0: 5, 3: 9}
    assert again.seen(0, 5) and not again.seen(0, 6)
    assert not again.seen(7, 0)  # a partition it never saw


@pytest.mark.parametrize("text", ["", "c1.!!!", "c1." + "MDo=", "x", "c1.LTM6MA"])
def test_foreign_text_is_not_a_cursor(text: str) -> None:
    with pytest.raises(CursorError):
        Cursor.decode(text)


def test_an_event_frame_is_json_with_the_event_as_kafka_holds_it() -> None:
    event = {"type": "document.accepted", "subject": "d", "owner": "alice", "data": {"x": "é"}}
    item = LiveEvent("d", "alice", "document.accepted", 1, 2, 41, json.dumps(event))
    cursor = Cursor({2: 40})
    frame = event_frame(item, cursor)
    body = json.loads(frame.text)
    assert body["event"] == event
    assert body["position"] == {"partition": 2, "offset": 41}
    assert Cursor.decode(body["cursor"]).offsets == {2: 41}
    assert frame.cursor == body["cursor"]
