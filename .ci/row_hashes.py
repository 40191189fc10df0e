"""Row hashes of a demo's Delta tables, to compare the same demo built on different Sparks.

    python .ci/row_hashes.py DEMO_DIR > hashes.json
    python .ci/row_hashes.py DEMO_DIR --compare other.json

For each table named in ``DEMO_DIR/manifest.json``: its columns with their types, its row count,
and the XOR and the sum of an xxhash64 over every column of each row and the row's null flags
(xxhash64 skips a null, so without them (null, x) and (x, null) would hash alike; maps are hashed
as sorted JSON, which Spark cannot hash). Two builds with the same hashes hold the same rows, in
any order, under the same schema. With ``--compare`` it prints the
tables that differ and exits 1 if any does.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def row_hashes(demo_dir: Path) -> dict[str, dict[str, object]]:
    """{table: {"rows": n, "xor": x, "sum": s}} of the demo under ``demo_dir``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType

    from dbx_iot_gen.spark import get_spark, spark_log_path

    manifest = json.loads((demo_dir / "manifest.json").read_text())
    spark = get_spark("dbx-iot-gen-row-hashes", log=spark_log_path())  # Spark's own output: not on stdout
    out: dict[str, dict[str, object]] = {}
    for name, entry in sorted(manifest["tables"].items()):
        df = spark.read.format("delta").load(entry["delta"])
        cols = [F.to_json(F.map_from_entries(F.array_sort(F.map_entries(F.col(f.name)))))
                if isinstance(f.dataType, MapType) else F.col(f.name) for f in df.schema.fields]
        nulls = F.array(*[F.col(f.name).isNull() for f in df.schema.fields])
        h = df.select(F.xxhash64(*cols, nulls).alias("h"))
        row = h.agg(F.count("*").alias("rows"), F.bit_xor("h").alias("xor"),
                    F.sum(F.col("h").cast("decimal(38,0)")).alias("sum")).first()
        out[name] = {"schema": [f"{f.name} {f.dataType.simpleString()}" for f in df.schema.fields],
                     "rows": int(row["rows"]), "xor": str(row["xor"]), "sum": str(row["sum"])}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("demo_dir", type=Path)
    parser.add_argument("--compare", type=Path, help="hashes of another build (this script's output)")
    args = parser.parse_args(argv)
    mine = row_hashes(args.demo_dir)
    if args.compare is None:
        json.dump(mine, sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    theirs = json.loads(args.compare.read_text())
    differ = sorted(n for n in set(mine) | set(theirs) if mine.get(n) != theirs.get(n))
    for name in differ:
        print(f"{name}: {mine.get(name)} here, {theirs.get(name)} in {args.compare}")
    print(f"{len(mine)} tables, {sum(int(v['rows']) for v in mine.values()):,} rows: "
          + ("identical" if not differ else f"{len(differ)} differ"))
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
