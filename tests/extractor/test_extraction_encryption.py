"""Encrypted PDFs beyond the corpus's one (which has a user password)."""

from __future__ import annotations

import io
from pathlib import Path

import pypdf
import pytest

from services.extractor.extraction import ExtractionError, ExtractorPool
from shared.reasons import ReasonCode

from .extraction_samples import pdf_bytes


def _encrypted(path: Path, *, user: str, owner: str) -> Path:
    writer = pypdf.PdfWriter(clone_from=io.BytesIO(pdf_bytes(["Quarterly figures, restricted"])))
    writer.encrypt(user_password=user, owner_password=owner, algorithm="RC4-128")
    writer.write(path)
    return path


async def test_an_owner_password_only_pdf_opens_whatever_password_is_sent(
    pool: ExtractorPool, tmp_path: Path
) -> None:
    """Its user password is blank: viewers open it without asking, so must we, also when a
    client sends a password with every upload (it was refused as "the password is wrong")."""
    path = _encrypted(tmp_path / "owner-only.pdf", user="", owner="the-owner")
    for sent in (None, "something-else", "the-owner"):
        result = await pool.extract(f"owner-only-{sent}", path, password=sent)
        assert "Quarterly figures, restricted" in result.text


async def test_a_user_password_is_still_required_and_checked(
    pool: ExtractorPool, tmp_path: Path
) -> None:
    path = _encrypted(tmp_path / "user.pdf", user="the-user", owner="the-owner")
    assert "Quarterly" in (await pool.extract("user-right", path, password="the-user")).text
    for sent, said in ((None, "password is required"), ("not-it", "password is wrong")):
        with pytest.raises(ExtractionError) as refused:
            await pool.extract(f"user-{sent}", path, password=sent)
        assert refused.value.reason is ReasonCode.ENCRYPTED
        assert said in refused.value.message
