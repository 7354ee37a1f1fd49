"""The worker half: the process that imports the project and runs its env.py.

Everything in this package uses only the standard library, Alembic and SQLAlchemy (and the
project's own DBAPI driver), because it may run under the project's own interpreter
(``--python``), where none of drift-check's other dependencies are installed. Its modules
import each other relatively so the package can be loaded from its directory alone.
"""
