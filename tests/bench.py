"""``make bench``: throughput and latency of the platform beside ceilings from the same run.

Everything runs on this machine in one go: the embedded broker, the four services as real
processes, a real webhook receiver, and a load generator in this process.

- **Ingest throughput**: serious incident notifications POSTed to reviews (authenticated,
  validated, deadlines computed, case + outbox committed) with N requests in flight, beside
  the ceiling: a bare FastAPI endpoint under uvicorn validating a body of the same shape, under
  the same load from the same client.
- **End-to-end latency** at a fixed rate (open loop, default 20 incidents/s): POST sent ->
  webhook delivered to the Panel's endpoint (receiver's clock), p50/p95/p99, beside the
  ceiling: bare aiokafka produce -> consume on the same broker at the same rate.

Figures are printed and written to ``.bench/results.json``. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from shared.processes import free_port, wait_for_port
from shared.settings import ServiceSettings
from shared.stack import Stack, free_service_ports
from tests.support.receiver_process import run_receiver

ADMIN = {"Authorization": "Bearer masa-dev-admin-token"}
COUNCIL = "E08000035"


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in latencies_s]
    return {
        "p50_ms": round(pct(ms, 50), 2),
        "p95_ms": round(pct(ms, 95), 2),
        "p99_ms": round(pct(ms, 99), 2),
        "n": len(ms),
    }


def incident_body(partnership_id: str) -> dict[str, Any]:
    return {
        "client_reference": f"bench-{uuid.uuid4().hex}",
        "partnership_id": partnership_id,
        "council_ons_code": COUNCIL,
        "kind": "death_or_serious_harm",
        "nature": "serious_harm",
        "abuse_or_neglect_known_or_suspected": True,
        "incident_date": date.today().isoformat(),
        "aware_on": date.today().isoformat(),
        "children": [
            {
                "reference": "CHILD-0001",
                "age_years": 7,
                "sex": "female",
                "looked_after": False,
                "child_protection_plan": True,
            }
        ],
    }


async def closed_loop(
    client: httpx.AsyncClient,
    url: str,
    make_body: Any,
    headers: dict[str, str],
    total: int,
    concurrency: int,
) -> dict[str, Any]:
    """``total`` POSTs with ``concurrency`` in flight; requests per second and latency."""
    latencies: list[float] = []
    errors = 0
    queue = iter(range(total))

    async def worker() -> None:
        nonlocal errors
        for _ in queue:
            start = time.perf_counter()
            response = await client.post(url, json=make_body(), headers=headers)
            latencies.append(time.perf_counter() - start)
            if response.status_code not in (200, 201):
                errors += 1

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    return {"requests_per_s": round(total / elapsed, 1), "errors": errors, **summary(latencies)}


async def kafka_ceiling(bootstrap: str, rate: float, seconds: float) -> dict[str, Any]:
    """Bare aiokafka: produce (acks=all) at ``rate``/s; latency until a consumer sees it."""
    topic = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=1)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=f"bench-{uuid.uuid4().hex[:8]}",
        session_timeout_ms=1500,
        heartbeat_interval_ms=300,
        # the same fetch wait as the platform's consumers (see KAFKA_FETCH_MAX_WAIT_MS)
        fetch_max_wait_ms=ServiceSettings().kafka_fetch_max_wait_ms,
    )
    await producer.start()
    await producer.send_and_wait(topic, b"warm-up")
    await consumer.start()
    while not consumer.assignment():
        await consumer.getmany(timeout_ms=100)
    sent: dict[bytes, float] = {}
    latencies: list[float] = []
    count = int(rate * seconds)

    async def consume() -> None:
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    if r.value in sent:
                        latencies.append(now - sent[r.value])

    reader = asyncio.create_task(consume())
    began = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        key = f"{i}-{uuid.uuid4().hex}".encode()
        sent[key] = time.perf_counter()
        await producer.send(topic, key, key=b"p")
    await asyncio.wait_for(reader, 30)
    # raw throughput: as fast as the producer can go, acks=all
    payload = b"x" * 600
    began = time.perf_counter()
    futures = [await producer.send(topic, payload, key=b"p") for _ in range(5000)]
    await asyncio.gather(*futures)
    produce_rate = 5000 / (time.perf_counter() - began)
    await consumer.stop()
    await producer.stop()
    return {"rate_per_s": rate, "produce_records_per_s": round(produce_rate), **summary(latencies)}


async def e2e(
    client: httpx.AsyncClient,
    reviews: str,
    token: str,
    partnership_id: str,
    receiver: Any,
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Open loop at ``rate``/s: POST -> Panel webhook delivered (receiver's clock)."""
    headers = {"Authorization": f"Bearer {token}"}
    posted_at: dict[str, float] = {}
    accepted = 0
    count = int(rate * seconds)

    async def post_one() -> None:
        nonlocal accepted
        sent = time.time()
        response = await client.post(
            f"{reviews}/incidents", json=incident_body(partnership_id), headers=headers
        )
        if response.status_code in (200, 201):
            accepted += 1
            posted_at[response.json()["case_id"]] = sent

    tasks = []
    began = time.perf_counter()
    for i in range(count):
        await asyncio.sleep(max(0.0, began + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(post_one()))
    await asyncio.gather(*tasks)
    delivered: dict[str, float] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for record in await receiver.adeliveries("panel"):
            body = record.get("body") or {}
            case_id = ((body.get("data") or {}).get("case") or {}).get("case_id")
            if case_id in posted_at and record.get("status", 200) < 300:
                at = datetime.fromisoformat(record["received_at"]).timestamp()
                delivered.setdefault(case_id, at)
        if len(delivered) >= len(posted_at):
            break
        await asyncio.sleep(0.5)
    latencies = [delivered[c] - posted_at[c] for c in delivered]
    return {
        "rate_per_s": rate,
        "accepted": accepted,
        "delivered": len(delivered),
        **summary(latencies),
    }


async def wait_for_drain(receiver: Any, expected: int, within: float = 300.0) -> float:
    """Seconds until the Panel's endpoint has had ``expected`` successful deliveries."""
    began = time.monotonic()
    while time.monotonic() - began < within:
        records = await receiver.adeliveries("panel")
        if sum(1 for r in records if r.get("status", 200) < 300) >= expected:
            break
        await asyncio.sleep(0.5)
    return time.monotonic() - began


async def wait_until_ok(client: httpx.AsyncClient, method: str, url: str, **kw: Any) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = await client.request(method, url, **kw)
        if response.status_code in (200, 201):
            return response
        await asyncio.sleep(0.2)
    raise RuntimeError(f"{method} {url} never succeeded: {response.status_code} {response.text}")


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="masa-bench-"))
    with run_receiver(log_path=workdir / "receiver.jsonl") as receiver:
        recipients = {
            r: {"name": r, "webhook_url": receiver.hook_url(r), "secret": receiver.secret_for(r)}
            for r in ("panel", "ofsted", "dfe")
        }
        env = {
            "NOTIFICATIONS_RECIPIENTS": json.dumps(recipients),
            "LOG_LEVEL": "WARNING",
            "KAFKA_SESSION_TIMEOUT_MS": "3000",
            "KAFKA_HEARTBEAT_INTERVAL_MS": "500",
        }
        bare_port = free_port()
        bare = subprocess.Popen(
            [sys.executable, "-m", "tests.support.bare_app", "--port", str(bare_port)]
        )
        try:
            with Stack(
                data_dir=workdir / "data", ports=free_service_ports(), env=env, wait_ready=True
            ) as stack:
                wait_for_port("127.0.0.1", bare_port, 30)
                return asyncio.run(measure(args, stack, receiver, f"http://127.0.0.1:{bare_port}"))
        finally:
            bare.terminate()
            bare.wait(10)


async def measure(args: argparse.Namespace, stack: Stack, receiver: Any, bare: str) -> Any:
    limits = httpx.Limits(max_connections=args.concurrency + 8)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        partners, reviews = stack.urls["partners"], stack.urls["reviews"]
        partnership = (
            await client.post(
                f"{partners}/partnerships",
                headers=ADMIN,
                json={
                    "name": "Bench Safeguarding Children Partnership",
                    "councils": [
                        {"name": "Leeds City Council", "ons_code": COUNCIL, "la_number": "383"}
                    ],
                    "partners": [
                        {
                            "kind": "local_authority",
                            "organisation": "Leeds City Council",
                            "lead_role": "Chief Executive",
                        },
                        {
                            "kind": "health_board",
                            "organisation": "NHS West Yorkshire ICB",
                            "lead_role": "Chief Executive",
                        },
                        {
                            "kind": "police",
                            "organisation": "West Yorkshire Police",
                            "lead_role": "Chief Constable",
                        },
                    ],
                },
            )
        ).json()
        system = (
            await client.post(
                f"{partners}/partnerships/{partnership['id']}/client-systems",
                headers=ADMIN,
                json={
                    "name": "Bench case system",
                    "organisation": "Leeds City Council",
                    "allowed_event_types": ["incident.notified"],
                },
            )
        ).json()
        token = system["credential"]["token"]
        # the token and the partnership reach reviews through partners.events
        await wait_until_ok(
            client,
            "POST",
            f"{reviews}/incidents",
            json=incident_body(partnership["id"]),
            headers={"Authorization": f"Bearer {token}"},
        )

        print(f"ceiling: bare FastAPI, {args.requests} POSTs, {args.concurrency} in flight ...")
        bare_http = await closed_loop(
            client,
            f"{bare}/incidents",
            lambda: incident_body(partnership["id"]),
            {},
            args.requests,
            args.concurrency,
        )
        print(f"ours: POST /incidents, {args.requests} POSTs, {args.concurrency} in flight ...")
        ingest = await closed_loop(
            client,
            f"{reviews}/incidents",
            lambda: incident_body(partnership["id"]),
            {"Authorization": f"Bearer {token}"},
            args.requests,
            args.concurrency,
        )
        # latency is timed on an idle platform: wait for the ingest run's deliveries first
        drained = await wait_for_drain(receiver, args.requests - ingest["errors"] + 1)
        print(f"ingest backlog delivered in {drained:.1f} s")
        await asyncio.sleep(args.settle)
        print(f"ceiling: bare aiokafka at {args.rate}/s for {args.seconds}s ...")
        kafka = await kafka_ceiling(stack.bootstrap_servers, args.rate, args.seconds)
        print(f"ours: POST -> webhook at {args.rate}/s for {args.seconds}s ...")
        end_to_end = await e2e(
            client, reviews, token, partnership["id"], receiver, args.rate, args.seconds
        )
    return {"ingest": ingest, "bare_fastapi": bare_http, "e2e": end_to_end, "bare_kafka": kafka}


def ratio(ours: float, ceiling: float) -> str:
    return f"{ours / ceiling:.2f}" if ceiling else "n/a"


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    i, b, e, k = results["ingest"], results["bare_fastapi"], results["e2e"], results["bare_kafka"]
    lines = [
        f"MASA bench {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores",
        "",
        f"{'measure':<44}{'ours':>12}{'ceiling':>12}{'ours/ceiling':>14}",
        f"{'ingest throughput (req/s, higher is better)':<44}{i['requests_per_s']:>12}"
        f"{b['requests_per_s']:>12}{ratio(i['requests_per_s'], b['requests_per_s']):>14}",
        f"{'ingest latency p50 (ms)':<44}{i['p50_ms']:>12}{b['p50_ms']:>12}"
        f"{ratio(i['p50_ms'], b['p50_ms']):>14}",
        f"{'ingest latency p99 (ms)':<44}{i['p99_ms']:>12}{b['p99_ms']:>12}"
        f"{ratio(i['p99_ms'], b['p99_ms']):>14}",
    ]
    for q in ("p50", "p95", "p99"):
        label = f"e2e POST->webhook {q} (ms) at {e['rate_per_s']}/s"
        ours, ceiling = e[q + "_ms"], k[q + "_ms"]
        lines.append(f"{label:<44}{ours:>12}{ceiling:>12}{ratio(ours, ceiling):>14}")
    lines += [
        "",
        f"ingest: {i['n']} requests, {i['errors']} errors, {args.concurrency} in flight;"
        f" bare FastAPI: {b['errors']} errors",
        f"e2e: {e['accepted']} accepted, {e['delivered']} delivered to the Panel endpoint;"
        f" ceiling = bare aiokafka produce(acks=all)->consume on the same broker",
        f"raw broker produce rate (acks=all, 600 B): {k['produce_records_per_s']} records/s",
        f"target: e2e p50 < 100 ms at 20/s -> {'met' if e['p50_ms'] < 100 else 'NOT met'}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--out", default=".bench/results.json")
    args = parser.parse_args()
    results = run(args)
    text = report(results, args)
    print("\n" + text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"results": results, "args": vars(args), "at": datetime.now(UTC).isoformat()}, indent=2
        )
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
