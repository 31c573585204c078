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
        """Compacted latest state per document (written by status)."""
        return self._name("documents.status")

    def retry(self, topic: str) -> str:
        return f"{topic}.retry"

    def dead_letter(self, topic: str) -> str:
        return f"{topic}.dlt"

    def all(self) -> list[str]:
        work = [self.uploaded, self.extracted, self.analyzed]
        return [
            *work,
            self.events,
            self.commands,
            self.status,
            *(self.retry(t) for t in work),
            *(self.dead_letter(t) for t in work),
        ]

    def compacted(self) -> set[str]:
        return {self.status}
