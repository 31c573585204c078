"""Consumer lag read from the real Kafka: one reading, and readings again and again over the
same clients (status's timer)."""

from __future__ import annotations

import uuid

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from shared.kafka import create_topics
from shared.lag import LagReader, consumer_lag


async def test_a_reader_keeps_its_clients_between_readings_and_reopens_after_close(
    kafka_bootstrap: str,
) -> None:
    prefix = f"lag{uuid.uuid4().hex[:6]}."
    topic = f"{prefix}events"
    await create_topics(kafka_bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, f"{n}".encode())
    finally:
        await producer.stop()
    group = f"{prefix}docstream-status"
    member = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await member.start()
    try:
        member.assign([TopicPartition(topic, 0)])
        await member.commit({TopicPartition(topic, 0): 2})
    finally:
        await member.stop()

    reader = LagReader(kafka_bootstrap, prefix)
    try:
        first = await reader.read()
        clients = reader._clients
        second = await reader.read()
        assert reader._clients is clients and clients is not None  # kept between readings
        assert first == second == await consumer_lag(kafka_bootstrap, prefix)
        assert [(r.group, r.topic, r.committed, r.end, r.lag) for r in first] == [
            (group, topic, 2, 5, 3)
        ]
        await reader.close()
        assert reader._clients is None
        assert await reader.read() == first  # opened again
        assert reader._clients is not clients
    finally:
        await reader.close()
