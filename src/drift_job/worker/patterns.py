"""Server messages both halves recognise (standard library only)."""

from __future__ import annotations

import re

#: Wrong credentials or names: a configuration problem, never retried as a transient fault.
LOGIN_FAILURE = re.compile(
    r"password authentication failed|no password supplied|no pg_hba\.conf entry|"
    r"authentication failed|role \"[^\"]*\" does not exist|"
    r"database \"[^\"]*\" does not exist|permission denied for database"
)
