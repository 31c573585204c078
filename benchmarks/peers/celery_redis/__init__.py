"""The seed's architecture as a peer: FastAPI + Celery (prefork) + Redis pub/sub + MongoDB.

What docstream replaced (Django + Celery + Redis + Channels), rebuilt with the same edges as
docstream so the two can be timed on the same documents:

- ``web``: multipart upload saved to disk, a Celery task sent, ``202`` with an id; a WebSocket
  that sends the stored state, then relays the document's Redis pub/sub channel until the end;
- ``worker``: the Celery task, in prefork workers (one per core), running docstream's own
  extraction (tables on, as the service) and offline analysis, publishing progress at
  10/50/90/100% and writing the document to MongoDB at its start and at its end, as the seed's
  models did;
- ``stack``: starts Redis, the worker and the web app on free ports, against a given MongoDB.

Benchmark-only: Celery and redis-py come with the ``bench`` extra; nothing in services/ imports
this package.
"""
