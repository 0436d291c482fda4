"""Recording a run as Langfuse dataset runs: run items posted per second by
``LangfuseDatasetRuns`` (8 in flight, and 1) beside a bare sequential httpx loop posting the same
bodies, all against local-langfuse in this process (``python -m bench.dataset_runs``).

A run of 10,000 samples × 3 variants posts 30,000 items after it finishes.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from pydantic import SecretStr

from prompt_playground.adapters import LangfuseDatasetRuns
from prompt_playground.dataset_runs import RunItem
from tests.support.servers import PUBLIC_KEY, SECRET_KEY, start_local_langfuse


def _items(prefix: str, item_ids: list[str], variants: int) -> list[RunItem]:
    return [
        RunItem(
            run_name=f"{prefix} · v{v}",
            dataset_item_id=item,
            trace_id=uuid.uuid4().hex,
            variant=f"v{v}",
            sample_id=item,
            description="bench",
            metadata={"run_id": prefix, "variant": f"v{v}"},
        )
        for v in range(variants)
        for item in item_ids
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--variants", type=int, default=2)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-dataset-runs-"))
    server = start_local_langfuse(folder / "langfuse.sqlite3")
    try:
        auth = (PUBLIC_KEY, SECRET_KEY)
        with httpx.Client(base_url=server.base_url, auth=auth) as client:
            client.post("/api/public/v2/datasets", json={"name": "bench"}).raise_for_status()
            item_ids = []
            for i in range(args.samples):
                made = client.post(
                    "/api/public/dataset-items", json={"datasetName": "bench", "input": {"i": i}}
                )
                made.raise_for_status()
                item_ids.append(str(made.json()["id"]))
            bare = _items("bare", item_ids, args.variants)
            started = time.perf_counter()
            for item in bare:
                client.post(
                    "/api/public/dataset-run-items",
                    json={
                        "runName": item.run_name,
                        "datasetItemId": item.dataset_item_id,
                        "traceId": item.trace_id,
                        "runDescription": item.description,
                        "metadata": item.metadata,
                    },
                ).raise_for_status()
            bare_s = time.perf_counter() - started
        n = len(bare)
        print(f"{n} run items ({args.samples} samples × {args.variants} variants)")
        print(f"  bare httpx loop, sequential: {n / bare_s:,.0f} items/s ({bare_s:.2f} s)")
        sink = LangfuseDatasetRuns(
            base_url=server.base_url, public_key=PUBLIC_KEY, secret_key=SecretStr(SECRET_KEY)
        )
        for parallel in (1, LangfuseDatasetRuns.PARALLEL):
            sink.PARALLEL = parallel
            items = _items(f"adapter-{parallel}", item_ids, args.variants)
            started = time.perf_counter()
            linked = sink.link(items)
            took = time.perf_counter() - started
            print(f"  LangfuseDatasetRuns, {parallel} in flight: {linked / took:,.0f} items/s")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
