"""With the broker gone and a partition left without a leader (a controlled shutdown's last
metadata), aiokafka's producer asks for metadata again and again: each failed update must
wait the client's retry backoff, or the loop spins (shared/kafka_backoff.py)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.client import AIOKafkaClient

from shared import kafka_backoff
from shared.kafka import create_topics


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: connecting to it is refused at once


async def test_a_producer_without_leader_or_broker_asks_at_most_ten_times_a_second(
    kafka_bootstrap: str,
) -> None:
    topic = f"backoff{uuid.uuid4().hex[:6]}"
    await create_topics(kafka_bootstrap, [topic], partitions=1)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    client: Any = producer.client
    cluster = client.cluster
    try:
        await producer.send_and_wait(topic, b"first")
        brokers, partitions = dict(cluster._brokers), dict(cluster._partitions[topic])
        # The broker gone (its address refuses connections), its partition without a leader.
        for node_id, broker in brokers.items():
            cluster._brokers[node_id] = broker._replace(port=_refused_port())
        for conn in list(client._conns.values()):
            conn.close()
        client._conns.clear()
        for number, partition in partitions.items():
            cluster._partitions[topic][number] = partition._replace(leader=-1)

        updates = 0
        update = client._metadata_update

        async def counted(*args: Any) -> bool:
            nonlocal updates
            updates += 1
            result: bool = await update(*args)
            return result

        client._metadata_update = counted
        sent = await producer.send(topic, b"held")  # no leader: the sender asks for metadata
        await asyncio.sleep(1.0)
        asked = updates
        # The broker back: the held record goes, and the producer can stop.
        cluster._brokers.update(brokers)
        cluster._partitions[topic].update(partitions)
        await asyncio.wait_for(sent, 30)
    finally:
        await asyncio.wait_for(producer.stop(), 30)
    # Without the backoff: thousands (each fails at once, and the sender asks again).
    assert 1 <= asked <= 15


async def test_a_failed_update_waits_the_backoff_and_a_good_one_does_not() -> None:
    answers = iter([False, True])

    async def update(self: AIOKafkaClient, cluster_metadata: Any, topics: Any) -> bool:
        return next(answers)

    wrapped = kafka_backoff._with_backoff(update)
    client = AIOKafkaClient(bootstrap_servers="127.0.0.1:1", retry_backoff_ms=200)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await wrapped(client, None, None) is False
    failed_took = loop.time() - started
    started = loop.time()
    assert await wrapped(client, None, None) is True
    assert failed_took >= 0.19
    assert loop.time() - started < 0.05
    kafka_backoff.install()  # again: the method is wrapped once
    assert getattr(AIOKafkaClient._metadata_update, "_docstream_backoff", False)
    assert not getattr(AIOKafkaClient._metadata_update.__wrapped__, "_docstream_backoff", False)
