from __future__ import annotations

import pytest

from services.ingest.errors import ApiError
from services.ingest.uploads import _options


@pytest.mark.parametrize("tag", ["fr", "en", "pt-BR", "zh-Hant", "sr_Latn", "yue"])
def test_a_language_tag_is_taken_as_the_hint(tag: str) -> None:
    assert _options({"language": tag}).language_hint == tag


@pytest.mark.parametrize(
    "garbage", ["[{}, [-8.09e+279]]", "english please", "f", "x" * 64, "fr-", "<script>"]
)
def test_anything_else_is_refused_with_a_reason(garbage: str) -> None:
    # Found by the OpenAPI fuzz test: a JSON array sent as the field was taken as a hint.
    with pytest.raises(ApiError) as refused:
        _options({"language": garbage})
    assert refused.value.status == 422 and refused.value.reason == "invalid_field"


def test_no_language_is_no_hint() -> None:
    assert _options({"language": ""}).language_hint is None
