"""Every catalog query of the catalog pass, kept together so the filters stay identical.

Each query reads one kind of object for the whole database at once (no per-table round
trips: 2,000 tables must snapshot in well under a second) and relies on the server's own
renderings (format_type, pg_get_expr, pg_get_constraintdef, pg_get_indexdef...) so that two
spellings the server treats as the same thing come out as the same text on both databases.

Every query skips the system schemas, objects that belong to an extension (pg_depend
deptype 'e') and Alembic's own ``alembic_version`` table, in whatever schema it lives.
"""

from __future__ import annotations


def _user_schema(alias: str) -> str:
    """A namespace that holds the project's own objects."""
    return (
        f"{alias}.nspname NOT IN ('pg_catalog', 'information_schema')"
        f" AND {alias}.nspname NOT LIKE 'pg\\_toast%'"
        f" AND {alias}.nspname NOT LIKE 'pg\\_temp%'"
    )


def _not_extension_owned(catalog: str, oid: str) -> str:
    """The object was not created by CREATE EXTENSION (its members are not the project's)."""
    return (
        "NOT EXISTS (SELECT 1 FROM pg_depend e"  # noqa: S608 - called with constants only
        f" WHERE e.classid = '{catalog}'::regclass AND e.objid = {oid} AND e.deptype = 'e')"
    )


#: A table of the project: ordinary or partitioned, in a user schema, not alembic_version.
_USER_TABLE = (
    "c.relkind IN ('r', 'p') AND c.relname <> 'alembic_version' AND "
    + _user_schema("n")
    + " AND "
    + _not_extension_owned("pg_class", "c.oid")
)

SEARCH_PATH = "SELECT current_setting('search_path')"
# Session-wide (is_local false): a SET inside a transaction that rolls back is undone anyway.
SET_SEARCH_PATH = "SELECT set_config('search_path', :value, false)"

SERVER_VERSION = "SELECT current_setting('server_version_num')::int AS version"

SCHEMAS = f"""
SELECT n.nspname AS name
FROM pg_namespace n
WHERE {_user_schema("n")} AND {_not_extension_owned("pg_namespace", "n.oid")}
"""  # noqa: S608 - only this module's constant filters are interpolated

TABLES = f"""
SELECT n.nspname AS schema, c.relname AS name,
       obj_description(c.oid, 'pg_class') AS comment,
       c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
       c.relacl::text[] AS acl
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_TABLE}
"""  # noqa: S608 - only this module's constant filters are interpolated

# ``owns_sequence``: the column owns a sequence (serial, or OWNED BY), so a nextval()
# default is the column's own counter whatever the sequence happens to be called.
COLUMNS = f"""
SELECT n.nspname AS schema, c.relname AS table, a.attname AS name,
       format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS not_null,
       pg_get_expr(ad.adbin, ad.adrelid) AS expression,
       a.attidentity::text AS identity, a.attgenerated::text AS generated,
       CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation THEN
         CASE WHEN cn.nspname = 'pg_catalog' THEN quote_ident(co.collname)
              ELSE quote_ident(cn.nspname) || '.' || quote_ident(co.collname) END
       END AS collation,
       col_description(c.oid, a.attnum) AS comment,
       EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
                 AND d.refobjid = c.oid AND d.refobjsubid = a.attnum
                 AND d.deptype IN ('a', 'i')) AS owns_sequence
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attnum > 0 AND NOT a.attisdropped AND {_USER_TABLE}
"""  # noqa: S608 - only this module's constant filters are interpolated

# Not 'n' (PostgreSQL 18's not-null constraints: nullability is attnotnull) nor 't'.
CONSTRAINTS = f"""
SELECT n.nspname AS schema, c.relname AS table, k.conname AS name, k.contype::text AS contype,
       pg_get_constraintdef(k.oid) AS definition
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype IN ('p', 'f', 'u', 'c', 'x') AND {_USER_TABLE}
"""  # noqa: S608 - only this module's constant filters are interpolated

# Indexes that back a primary key, unique or exclusion constraint are compared as that
# constraint. (A foreign key's conindid is the referenced table's index: not a backing one.)
INDEXES = f"""
SELECT n.nspname AS schema, c.relname AS table, i.relname AS name,
       quote_ident(i.relname) AS quoted_name, pg_get_indexdef(i.oid) AS definition
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_USER_TABLE}
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                  WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid
                    AND k.contype IN ('p', 'u', 'x'))
"""  # noqa: S608 - only this module's constant filters are interpolated

ENUMS = f"""
SELECT n.nspname AS schema, t.typname AS name,
       COALESCE(array_agg(e.enumlabel::text ORDER BY e.enumsortorder)
                FILTER (WHERE e.enumlabel IS NOT NULL), '{{}}') AS labels
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
LEFT JOIN pg_enum e ON e.enumtypid = t.oid
WHERE t.typtype = 'e' AND {_user_schema("n")} AND {_not_extension_owned("pg_type", "t.oid")}
GROUP BY n.nspname, t.typname
"""  # noqa: S608 - only this module's constant filters are interpolated

# Free-standing: no column owns it (serial 'a' and identity 'i' sequences belong to a column).
SEQUENCES = f"""
SELECT n.nspname AS schema, c.relname AS name, s.seqincrement AS increment
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind = 'S' AND {_user_schema("n")} AND {_not_extension_owned("pg_class", "c.oid")}
  AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                    AND d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
                    AND d.deptype IN ('a', 'i'))
"""  # noqa: S608 - only this module's constant filters are interpolated

# The objects below are what models cannot express: reported as information.

FUNCTIONS = f"""
SELECT n.nspname AS schema, NULL::text AS table, p.proname AS name,
       CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                      ELSE 'function' END AS kind,
       pg_get_function_identity_arguments(p.oid) AS signature
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE {_user_schema("n")} AND {_not_extension_owned("pg_proc", "p.oid")}
"""  # noqa: S608 - only this module's constant filters are interpolated

VIEWS = f"""
SELECT n.nspname AS schema, NULL::text AS table, c.relname AS name,
       CASE c.relkind WHEN 'm' THEN 'materialized_view' ELSE 'view' END AS kind,
       NULL::text AS signature
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('v', 'm') AND {_user_schema("n")}
  AND {_not_extension_owned("pg_class", "c.oid")}
"""  # noqa: S608 - only this module's constant filters are interpolated

TRIGGERS = f"""
SELECT n.nspname AS schema, c.relname AS table, g.tgname AS name, 'trigger' AS kind,
       NULL::text AS signature
FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT g.tgisinternal AND {_user_schema("n")} AND c.relname <> 'alembic_version'
  AND {_not_extension_owned("pg_class", "c.oid")}
"""  # noqa: S608 - only this module's constant filters are interpolated

POLICIES = f"""
SELECT n.nspname AS schema, c.relname AS table, p.polname AS name, 'policy' AS kind,
       NULL::text AS signature
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE {_user_schema("n")} AND {_not_extension_owned("pg_class", "c.oid")}
"""  # noqa: S608 - only this module's constant filters are interpolated

# plpgsql is installed in every database: not the project's doing.
EXTENSIONS = """
SELECT NULL::text AS schema, NULL::text AS table, x.extname AS name, 'extension' AS kind,
       NULL::text AS signature
FROM pg_extension x
WHERE x.extname <> 'plpgsql'
"""

#: Queries whose rows all have the same columns (schema, table, name, kind, signature).
OBJECT_QUERIES = (FUNCTIONS, VIEWS, TRIGGERS, POLICIES, EXTENSIONS)
