from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from shared.settings import ServiceSettings


class StatusSettings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="DOCSTREAM_STATUS_", frozen=True, populate_by_name=True, extra="ignore"
    )

    web_port: int = 8003
    #: Events folded per batch, and how long a batch may wait to fill (seconds).
    batch_max: int = Field(500, ge=1)
    # The gateway streams events live; the read model may trail by this much, and in
    # exchange folds several events of a document into one write.
    batch_within_s: float = Field(0.25, gt=0)
    #: The broker gathers the fold's records for up to this long (or 64 KiB) before it
    #: answers a fetch: a few fetches a second instead of one per event (status and Kafka
    #: CPU per document), for a read model that trails by up to this much more. 0: each
    #: record at once.
    fetch_wait_s: float = Field(0.1, ge=0, le=1.0)
    #: How often a replica checks whether a rebuild switched the read model's database.
    switch_poll_s: float = Field(1.0, gt=0)
    #: Writes guarded by the stored position (optimistic concurrency). None: on for MongoDB,
    #: off for FerretDB, which would decode the whole collection for such a filter.
    guarded_writes: bool | None = None
    #: A document whose events keep making the fold fail (a bug) is dead-lettered after
    #: this many attempts, so it cannot hold its partition for ever.
    poison_attempts: int = Field(5, ge=1)
    #: A document's state on documents.status: published at once when anything but its
    #: progress changes (status, an end, a deletion, metadata, analysis, a new generation);
    #: a change of progress alone at most this often per document (the latest one is published
    #: once this long has passed). 0: every change at once.
    publish_progress_every_s: float = Field(2.0, ge=0)
    #: The states a batch publishes (one task per document) gather this long in the producer
    #: before they go, so that they share one request to the broker instead of one or two
    #: each. Off the live path: the gateway streams documents.events. 0: each at once.
    publish_linger_s: float = Field(0.005, ge=0, le=1.0)
    #: A document's listed summary and in-flight marker: a change between its creation and its
    #: end (``extracting``, ``analyzing``, ...) is written once it has waited this long, so
    #: most documents finish first and it is never written; its creation and end are written
    #: at once. 0: every change at once.
    hold_s: float = Field(1.0, ge=0)

    # The stalled-document watchdog: a document with no new event for longer than its
    # stage's deadline has that stage's work sent again (up to ``max_redrives`` times), then
    # fails with reason ``stalled``. Deadlines count from the last event, and progress events
    # keep a long extraction alive; a queued document may be waiting behind a backlog, so
    # its deadline is the longest.
    watchdog_interval_s: float = Field(5.0, gt=0)
    stall_queued_s: float = Field(900.0, gt=0)
    stall_extraction_s: float = Field(300.0, gt=0)
    stall_analysis_s: float = Field(600.0, gt=0)
    max_redrives: int = Field(2, ge=0)
    #: Sweep a partition only when the fold is at most this many events behind on it:
    #: a read model that trails its log would make busy documents look stalled.
    watchdog_max_lag: int = Field(100, ge=0)

    # Retention (None keeps for ever): finished documents' processing logs, and the files of
    # failed documents, dropped this many days after the document finished.
    retain_logs_days: float | None = Field(30.0, gt=0)
    retain_failed_files_days: float | None = Field(7.0, gt=0)
    housekeeping_interval_s: float = Field(3600.0, gt=0)
    #: How often the consumer groups' lag is read from Kafka for ``docstream_consumer_lag``.
    lag_interval_s: float = Field(10.0, gt=0)
