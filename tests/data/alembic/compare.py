"""What `alembic revision --autogenerate` would propose: Alembic's own comparison of the
models with the database, one line per operation. Usage: compare.py URL [hook]."""
import os
import sys

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, pool

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402


def line(diff):
    if isinstance(diff, list):
        return "; ".join(line(d) for d in diff)
    parts = [diff[0]]
    for x in diff[1:]:
        name = getattr(x, "name", None)
        if name is not None:
            parts.append(str(name))
        elif x is None or isinstance(x, (str, int, bool)):
            parts.append(str(x))
        else:
            parts.append(type(x).__name__)
    return " ".join(parts)


engine = create_engine(sys.argv[1], poolclass=pool.NullPool)
with engine.connect() as connection:
    opts = {"include_name": models.include_name} if sys.argv[2:] == ["hook"] else {}
    context = MigrationContext.configure(connection, opts=opts)
    for diff in compare_metadata(context, models.Base.metadata):
        print(line(diff))
