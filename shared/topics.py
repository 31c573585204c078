"""Topic names, declared once. A prefix lets tests and parallel stacks keep their records apart."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    prefix: str = ""

    def _name(self, base: str) -> str:
        return f"{self.prefix}{base}"

    @property
    def uploaded(self) -> str:
        """Work for the extractor: where the blob is, owner, options."""
        return self._name("documents.uploaded")

    @property
    def extracted(self) -> str:
        """Work for the analyzer: text (inline or a blob reference) and metadata."""
        return self._name("documents.extracted")

    @property
    def analyzed(self) -> str:
        """Results of the analysis, for downstream systems."""
        return self._name("documents.analyzed")

    @property
    def events(self) -> str:
        """Lifecycle and progress of every document; what status folds and gateway streams."""
        return self._name("documents.events")

    @property
    def commands(self) -> str:
        """Cancel and reprocess requests."""
        return self._name("documents.commands")

    @property
    def status(self) -> str:
        """Compacted: the latest state of each document (a tombstone once it is deleted)."""
        return self._name("documents.status")

    @property
    def webhooks_dead_letter(self) -> str:
        """Webhook deliveries whose attempts ran out: the message, its endpoint, the error."""
        return self._name("webhooks.dlt")

    def dead_letter(self, topic: str) -> str:
        return f"{topic}.dlt"

    def all(self) -> list[str]:
        # Dead letters: the stages' work records they could not finish, and the events of a
        # document the status fold could not apply. Retries happen inside the stage (with
        # backoff, then a dead letter), so there are no retry topics.
        parked = [self.uploaded, self.extracted, self.events]
        return [
            self.uploaded,
            self.extracted,
            self.analyzed,
            self.events,
            self.commands,
            self.status,
            *(self.dead_letter(t) for t in parked),
            self.webhooks_dead_letter,
        ]

    def compacted(self) -> set[str]:
        return {self.status}
