"""The store's SQL on its way to PostgreSQL.

Every query in `store/` is written once, for DuckDB, in the part of its dialect that PostgreSQL shares (DuckDB
follows PostgreSQL's closely). What still differs is handled here, in one place:

- **Parameters**: `?` and `$name` become psycopg's `%s` and `%(name)s`; a literal `%` is doubled. A list of text
  is sent as `text[]` (psycopg would leave its type unknown, and `unnest(?)` could not choose).
- **Type names**: DuckDB's `DOUBLE` and `BLOB` are `DOUBLE PRECISION` and `BYTEA`; an empty list `[]` as a column
  default is `'{}'`; `TRY_CAST(x AS DOUBLE)` is `try_cast_double(x)`.
- **JSON paths**: DuckDB's `->>'$.a.b'` is PostgreSQL's `#>>'{a,b}'`.
- **Functions** DuckDB has and PostgreSQL lacks are given to PostgreSQL under DuckDB's names (COMPAT_FUNCTIONS):
  epoch_us, len, list_contains, list_has_any, json_type, json_keys, json_extract_string, arg_max / max_by and
  arg_min / min_by, any_value (PostgreSQL 16 has its own).

Syntax without a common form (DuckDB's ANTI and SEMI JOIN, QUALIFY, ASOF, INSERT OR REPLACE) is not translated:
the queries use NOT EXISTS, subqueries, LATERAL and ON CONFLICT instead, which both engines run.
"""

from __future__ import annotations

import functools
import re

_WORDS = re.compile(r"\bDOUBLE\b(?!\s+PRECISION)|\bBLOB\b|DEFAULT\s*\[\]|\bTRY_CAST\s*\(", re.IGNORECASE)
_NAMED = re.compile(r"\$([A-Za-z_]\w*)")


def to_postgres(sql: str, params: list | tuple | dict | None) -> tuple[str, list | dict | None]:
    """`sql` and `params` as psycopg takes them."""
    if params is None:
        return _translate(sql, None), None
    if isinstance(params, dict):
        texts = tuple(sorted(name for name, value in params.items() if _is_text_list(value)))
        return _translate(sql, ("named", texts)), params
    texts = tuple(i for i, value in enumerate(params) if _is_text_list(value))
    return _translate(sql, ("positional", texts)), list(params)


def _is_text_list(value) -> bool:
    return isinstance(value, list | tuple) and all(v is None or isinstance(v, str) for v in value)


@functools.lru_cache(maxsize=4096)
def _translate(sql: str, shape: tuple | None) -> str:
    out: list[str] = []
    position = 0
    for code, quoted in _segments(sql):
        code = _WORDS.sub(_word, code)
        if shape is not None:
            code = code.replace("%", "%%")
            if shape[0] == "named":
                code = _NAMED.sub(lambda m: f"%({m.group(1)})s" + ("::text[]" if m.group(1) in shape[1] else ""), code)
            else:
                parts = code.split("?")
                code = parts[0]
                for part in parts[1:]:
                    code += "%s" + ("::text[]" if position in shape[1] else "") + part
                    position += 1
        out.append(code)
        out.append(quoted.replace("%", "%%") if shape is not None else quoted)
    return _try_casts(_JSON_PATH.sub(_json_path, "".join(out)))


# DuckDB reads `->>'$.a.b'` as a JSONPath; PostgreSQL's `->>` takes a key, and `#>>` a path.
_JSON_PATH = re.compile(r"(->>?)\s*'\$\.([\w.]+)'")


def _json_path(match: re.Match) -> str:
    operator = "#>>" if match.group(1) == "->>" else "#>"
    return f"{operator}'{{{','.join(match.group(2).split('.'))}}}'"


def _segments(sql: str):
    """(code, quoted) pairs: the text outside quotes and comments, and the quoted text or comment after it."""
    i, start, n = 0, 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = i + 1
            while end < n:
                if sql[end] == c:
                    if end + 1 < n and sql[end + 1] == c:  # a doubled quote inside
                        end += 2
                        continue
                    break
                end += 1
            yield sql[start:i], sql[i : end + 1]
            i = start = end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            end = n if end < 0 else end
            yield sql[start:i], sql[i:end]
            i = start = end
        else:
            i += 1
    yield sql[start:], ""


def _word(match: re.Match) -> str:
    word = match.group(0).upper()
    if word == "DOUBLE":
        return "DOUBLE PRECISION"
    if word == "BLOB":
        return "BYTEA"
    if word.startswith("DEFAULT"):
        return "DEFAULT '{}'"
    return "\0TRY_CAST("  # marked for _try_casts, which needs the whole call


def _try_casts(code: str) -> str:
    """TRY_CAST(x AS DOUBLE) → try_cast_double(x): PostgreSQL has no TRY_CAST."""
    while (start := code.find("\0TRY_CAST(")) >= 0:
        depth, i, quote = 0, start + len("\0TRY_CAST"), None
        while i < len(code):
            if quote:
                quote = None if code[i] == quote else quote
            elif code[i] in "'\"":
                quote = code[i]
            else:
                depth += {"(": 1, ")": -1}.get(code[i], 0)
                if depth == 0:
                    break
            i += 1
        inner = code[start + len("\0TRY_CAST(") : i]
        expr, _, target = inner.rpartition(" AS ")
        if target.strip().upper() not in ("DOUBLE PRECISION", "DOUBLE"):
            raise ValueError(f"TRY_CAST to {target.strip()} has no PostgreSQL form here")
        code = f"{code[:start]}try_cast_double({expr}){code[i + 1 :]}"
    return code


def _arg_aggregates() -> str:
    """arg_max(value, key) and its kin for the value types the store asks them of, keyed by time or number."""
    sql = []
    for value_type, tag in (("double precision", "double"), ("text", "text"), ("bigint", "bigint"),
                            ("boolean", "bool")):  # fmt: skip
        for key_type, key_tag in (("timestamptz", "ts"), ("double precision", "num")):
            state = f"cityops_arg_{tag}_{key_tag}"
            sql.append(f"""
                DO $$ BEGIN CREATE TYPE {state} AS (v {value_type}, k {key_type});
                EXCEPTION WHEN duplicate_object THEN NULL; END $$;
                CREATE OR REPLACE FUNCTION {state}_max({state}, {value_type}, {key_type}) RETURNS {state}
                    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
                    $$ SELECT CASE WHEN $3 IS NULL THEN $1 WHEN $1 IS NULL OR $3 > ($1).k
                                   THEN ROW($2, $3)::{state} ELSE $1 END $$;
                CREATE OR REPLACE FUNCTION {state}_min({state}, {value_type}, {key_type}) RETURNS {state}
                    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
                    $$ SELECT CASE WHEN $3 IS NULL THEN $1 WHEN $1 IS NULL OR $3 < ($1).k
                                   THEN ROW($2, $3)::{state} ELSE $1 END $$;
                CREATE OR REPLACE FUNCTION {state}_value({state}) RETURNS {value_type}
                    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ($1).v $$;
            """)
            for name, step in (("arg_max", "max"), ("max_by", "max"), ("arg_min", "min"), ("min_by", "min")):
                sql.append(f"""
                    CREATE OR REPLACE AGGREGATE {name}({value_type}, {key_type}) (
                        SFUNC = {state}_{step}, STYPE = {state}, FINALFUNC = {state}_value);
                """)
    return "\n".join(sql)


COMPAT_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION epoch_us(timestamptz) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT (extract(epoch FROM $1) * 1000000)::bigint $$;
CREATE OR REPLACE FUNCTION len(anyarray) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT cardinality($1)::bigint $$;
CREATE OR REPLACE FUNCTION list_contains(anycompatiblearray, anycompatible) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT coalesce($2 = ANY($1), false) $$;
CREATE OR REPLACE FUNCTION list_has_any(anycompatiblearray, anycompatiblearray) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT $1 && $2 $$;
CREATE OR REPLACE FUNCTION json_type(json) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT upper(json_typeof($1)) $$;
CREATE OR REPLACE FUNCTION json_keys(json) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT CASE WHEN json_typeof($1) = 'object' THEN ARRAY(SELECT json_object_keys($1)) ELSE '{{}}' END $$;
-- DuckDB's JSONPath of keys ('$.a.b'), the only form the store uses.
CREATE OR REPLACE FUNCTION json_extract_string(json, text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT $1 #>> CASE WHEN $2 = '$' THEN '{{}}'::text[] ELSE string_to_array(substr($2, 3), '.') END $$;
CREATE OR REPLACE FUNCTION json_extract_string(text, text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
    $$ SELECT json_extract_string($1::json, $2) $$;
CREATE OR REPLACE FUNCTION try_cast_double(text) RETURNS double precision LANGUAGE plpgsql IMMUTABLE AS
    $$ BEGIN RETURN $1::double precision; EXCEPTION WHEN others THEN RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION cityops_first(anyelement, anyelement) RETURNS anyelement
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT coalesce($1, $2) $$;
DO $$ BEGIN
    IF current_setting('server_version_num')::int < 160000 THEN
        CREATE OR REPLACE AGGREGATE any_value(anyelement) (SFUNC = cityops_first, STYPE = anyelement);
    END IF;
END $$;
{_arg_aggregates()}
"""


def ddl(sql: str) -> str:
    """A migration's DDL for PostgreSQL."""
    return _translate(sql, None)
