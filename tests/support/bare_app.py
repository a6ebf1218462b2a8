"""A bare FastAPI endpoint: the HTTP ceiling ``make bench`` compares the ingest API with.

Same server (uvicorn), same framework, a body validated by pydantic, no database, no auth.
``python -m tests.support.bare_app --port P``
"""

from __future__ import annotations

import argparse
import uuid

import uvicorn
from fastapi import FastAPI, status
from pydantic import BaseModel

app = FastAPI()


class Body(BaseModel):
    client_reference: str
    aware_on: str
    children: list[dict[str, object]]


@app.post("/incidents", status_code=status.HTTP_201_CREATED)
async def post(body: Body) -> dict[str, str]:
    return {"case_id": str(uuid.uuid4()), "client_reference": body.client_reference}


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
