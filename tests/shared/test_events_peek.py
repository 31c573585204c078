from __future__ import annotations

import json

from shared.events import (
    AnalysisStarted,
    DocumentCompleted,
    ExtractionProgressed,
    ProgressData,
    encode,
    peek_type,
)

COMMON = {"source": "/t", "subject": "d" * 32, "owner": "alice", "generation": 1}


def test_the_type_is_read_without_decoding_as_encode_writes_it() -> None:
    progressed = ExtractionProgressed(**COMMON, data=ProgressData(stage="extraction", done=1))
    for event in (DocumentCompleted(**COMMON), AnalysisStarted(**COMMON), progressed):
        assert peek_type(encode(event)) == event.type


def test_anything_written_otherwise_is_left_to_a_full_decode() -> None:
    spaced = json.dumps(json.loads(encode(DocumentCompleted(**COMMON)))).encode()  # ": "
    assert peek_type(spaced) is None
    # A "type" inside data, before the envelope's own: not trusted.
    nested = b'{"data":{"type":"document.completed"},"type":"extraction.started"}'
    assert peek_type(nested) is None
    assert peek_type(b"not json") is None
