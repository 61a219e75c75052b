import os
import sys

from alembic import context
from sqlalchemy import create_engine, pool

sys.path.insert(0, os.path.dirname(__file__))
import models  # noqa: E402

engine = create_engine(os.environ["APP_DATABASE_URL"], poolclass=pool.NullPool)
with engine.connect() as connection:
    options = dict(connection=connection, target_metadata=models.Base.metadata)
    if os.environ.get("APP_ALEMBIC_HOOK") == "1":
        options["include_name"] = models.include_name
    context.configure(**options)
    with context.begin_transaction():
        context.run_migrations()
