"""Reading a whole topic without a consumer group (dead letters are looked at, not consumed)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


async def partitions(bootstrap_servers: str, topic: str) -> list[TopicPartition]:
    """The topic's partitions (none if it does not exist), from the admin API: a consumer
    without a subscription keeps no metadata for the topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    found = [p["partition"] for d in described if d["error_code"] == 0 for p in d["partitions"]]
    return [TopicPartition(topic, p) for p in sorted(found)]


async def read_topic(bootstrap_servers: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` now, in partition and offset order."""
    tps = await partitions(bootstrap_servers, topic)
    if not tps:
        return []
    # Without a group nothing is committed: "earliest" starts every partition at its first
    # record (an explicit seek_to_beginning was overtaken by the default "latest" reset).
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        records: list[ConsumerRecord[bytes, bytes]] = []
        pending = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
        while pending:
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, batch in batches.items():
                records += [r for r in batch if r.offset < ends[tp]]
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return sorted(records, key=lambda r: (r.partition, r.offset))
