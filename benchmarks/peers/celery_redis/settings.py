"""The peer's one settings class (``DOCSTREAM_PEER_*``), read by its entry points only."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class PeerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCSTREAM_PEER_", frozen=True, extra="ignore")

    redis_url: str = "redis://127.0.0.1:6379/0"
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_database: str = "peer"
    upload_dir: Path = Path(".data/peer-uploads")


#: Progress is published on this channel per document; the state is its last message.
def channel(document_id: str) -> str:
    return f"peer:document:{document_id}"


CHANNEL_PATTERN = "peer:document:*"
TERMINAL = frozenset({"completed", "failed"})
TASK_NAME = "peer.process_document"
