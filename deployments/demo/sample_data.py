"""Writes sample rows into the source Milvus and shows them arriving on the target.

Usage: sample_data.py SOURCE_HOST:PORT TARGET_HOST:PORT
"""
import random
import sys
import time

from pymilvus import Collection, CollectionSchema, DataType, FieldSchema, connections, utility

ROWS = 2000
DIM = 8


def main(source: str, target: str) -> None:
    connections.connect(alias="source", address=source)
    connections.connect(alias="target", address=target)
    name = f"demo_books_{int(time.time())}"
    schema = CollectionSchema(
        [
            FieldSchema("id", DataType.INT64, is_primary=True, auto_id=True),
            FieldSchema("title", DataType.VARCHAR, max_length=64),
            FieldSchema("year", DataType.INT32),
            FieldSchema("embedding", DataType.FLOAT_VECTOR, dim=DIM),
        ],
        description="milvus-cdc demo",
    )
    src = Collection(name, schema, using="source", shards_num=2)
    src.create_index("embedding", {"index_type": "IVF_FLAT", "metric_type": "L2", "params": {"nlist": 16}})
    src.load()
    print(f"source: created, indexed and loaded collection {name} (auto-id primary key)")

    rng = random.Random(7)
    for batch in range(4):
        n = ROWS // 4
        titles = [f"book {batch * n + i}" for i in range(n)]
        years = [1900 + (batch * n + i) % 125 for i in range(n)]
        vectors = [[rng.random() for _ in range(DIM)] for _ in range(n)]
        src.insert([titles, years, vectors])
        print(f"source: inserted rows {batch * n}..{batch * n + n - 1}")

    start = time.time()
    while True:
        if utility.has_collection(name, using="target"):
            dst = Collection(name, using="target")
            if utility.load_state(name, using="target").name == "Loaded":
                count = dst.query("", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"]
                print(f"target: {count} of {ROWS} rows after {time.time() - start:.1f} s")
                if count == ROWS:
                    break
        if time.time() - start > 120:
            sys.exit("target did not catch up within 120 s; see the daemon log")
        time.sleep(1)

    expr = "year == 1984"
    fields = ["id", "title", "year"]
    on_source = sorted(src.query(expr, output_fields=fields), key=lambda r: r["id"])
    on_target = sorted(dst.query(expr, output_fields=fields, consistency_level="Strong"), key=lambda r: r["id"])
    print(f"query {expr!r} on the source: {on_source}")
    print(f"query {expr!r} on the target: {on_target}")
    print("same rows, same auto-generated primary keys" if on_source == on_target else "DIFFERENT rows")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
