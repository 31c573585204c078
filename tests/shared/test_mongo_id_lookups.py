"""Lookups by _id on the local FerretDB use an index (FerretDB 1.24's own _id index is on an
expression its queries never use, so every find, update and delete by _id scanned the table)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from typing import Any

from pymongo import AsyncMongoClient

from deploy.launcher import Stack


def _plan(db_file: str, query: str) -> str:
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        return " ".join(str(row[-1]) for row in conn.execute(f"EXPLAIN QUERY PLAN {query}"))


async def test_a_new_collection_gets_its_id_lookups_indexed(infra: Stack) -> None:
    name = f"ids_{uuid.uuid4().hex[:8]}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.cfg.mongo_url)
    try:
        await client[name]["documents"].insert_one({"_id": "a" * 32, "owner": "alice"})
        db_file = str(infra.cfg.data_dir / "ferretdb" / f"{name}.sqlite")
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
            (table,) = conn.execute("SELECT table_name FROM _ferretdb_collections").fetchone()
        # The statement FerretDB runs for find/update/delete with a filter of exactly {_id}.
        query = f"""SELECT _ferretdb_sjson FROM "{table}" WHERE _ferretdb_sjson->'$._id' = '"x"'"""
        plan = ""
        for _ in range(50):  # the wrapper indexes new tables within a couple of seconds
            plan = _plan(db_file, query)
            if "USING INDEX" in plan:
                break
            await asyncio.sleep(0.1)
        assert f"USING INDEX {table}__id_path" in plan, plan
        found = await client[name]["documents"].find_one({"_id": "a" * 32})
        assert found is not None and found["owner"] == "alice"
    finally:
        await client.drop_database(name)
        await client.close()
