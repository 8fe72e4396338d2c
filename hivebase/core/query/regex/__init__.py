"""`$regex` patterns: one syntax that SQLite (RE2, see ``db/engine.py``) and PostgreSQL (its ARE engine)
read alike, checked here before any SQL and rendered for each database.

Neither engine backtracks, so matching is linear in the value and needs no time budget. A pattern is parsed
into a small tree; constructs one engine lacks or reads differently are refused with their name, and the
rest is rendered with one meaning on both: character classes written out as code-point ranges (``\\w`` is
``[0-9A-Za-z_]`` everywhere, never the database locale's letters), case-insensitivity as explicit sets
(``[kK\u212a]``), ``.`` as "not a newline", ``\\b`` as ASCII word boundaries. docs/regex.md lists the syntax.
"""

from hivebase.core.query.regex.render import PG_WORD_EDGE, check, translate
from hivebase.core.query.regex.syntax import BACKREFERENCE, LOOKAROUND, NAMED, PatternError, parse

__all__ = ["BACKREFERENCE", "LOOKAROUND", "NAMED", "PG_WORD_EDGE", "PatternError", "check", "parse", "translate"]
