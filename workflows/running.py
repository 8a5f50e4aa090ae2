"""Talking to a workflow from outside it (commands, buttons, the API).

A query, signal or update to a workflow that has ended answers NOT_FOUND (no such run) or
FAILED_PRECONDITION (the run is closed); callers turn both into their own "not running" error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from temporalio.service import RPCError, RPCStatusCode


def workflow_gone(exc: RPCError) -> bool:
    """Whether `exc` says the workflow is not running (as opposed to Temporal failing)."""
    return exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.FAILED_PRECONDITION)


@contextmanager
def gone_as(error: Exception) -> Iterator[None]:
    """Raise `error` (from the RPC error) when the workflow called inside is not running."""
    try:
        yield
    except RPCError as exc:
        if workflow_gone(exc):
            raise error from exc
        raise
