"""The server's lock table filled up: one transaction took more locks than it has slots.

PostgreSQL keeps every lock a transaction holds until it ends, in a table of
``max_locks_per_transaction * (max_connections + max_prepared_transactions)`` slots. Alembic
runs every migration in one transaction unless env.py asks otherwise, so a chain that creates
a few thousand tables fails with ``out of shared memory`` and a hint to raise the setting.
The fix belongs in the project or on the server, and the message says which two there are.
"""

from __future__ import annotations

from collections.abc import Iterable

SETTING = "max_locks_per_transaction"
SYMPTOM = "out of shared memory"
#: SQLSTATE out_of_memory, as the server reports this condition.
OUT_OF_MEMORY = "53200"


def _texts(error: BaseException) -> Iterable[str]:
    """What a driver says about an error: its text, and the server's hint where kept apart
    (psycopg's ``diag``, asyncpg's ``hint``)."""
    yield str(error)
    yield str(getattr(error, "hint", None) or "")
    diag = getattr(error, "diag", None)
    yield str(getattr(diag, "message_hint", None) or "")


def is_lock_table_full(chain: Iterable[BaseException]) -> bool:
    """Whether any exception in ``chain`` is the server running out of lock slots."""
    for item in chain:
        texts = " ".join(_texts(item)).lower()
        code = getattr(item, "pgcode", None) or getattr(item, "sqlstate", None)
        if SETTING in texts and (SYMPTOM in texts or code == OUT_OF_MEMORY):
            return True
    return False


def lock_table_message(stage: str) -> str:
    """One line with both fixes."""
    return (
        f"the server ran out of lock slots during {stage} ({SYMPTOM}: one transaction "
        f"took more locks than {SETTING} allows): set transaction_per_migration=True in "
        "env.py's context.configure() so that each migration commits on its own, or raise "
        f"the server's {SETTING} (e.g. ALTER SYSTEM SET {SETTING} = 256, then restart it)"
    )
