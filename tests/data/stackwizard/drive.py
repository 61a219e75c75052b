"""Drive the backend StackWizard's generator writes, in-process, through its own API.

Run with the backend's directory (templates/common/backend of the npm package) as the
working directory and DATABASE_URL set. argv[1] is what to do:

  alembic ARGS...   the application's own Alembic (`alembic upgrade head`)
  create_all        the application's SQLAlchemy models' `Base.metadata.create_all`
  api               read a JSON list of steps on stdin, run them against the application
                    (FastAPI's TestClient, so its startup seeds the admin and sample
                    items), print a JSON list of results on stdout

A step is either {"login": {"email": E, "password": P}, "as": NAME} (the OAuth2 form login
at /api/v1/auth/login; the token is kept under NAME) or {"method": M, "path": P,
"as": NAME?, "json": BODY?}; each result is {"status": CODE, "body": JSON or text}.
"""

import contextlib
import json
import os
import sys

sys.path.insert(0, os.getcwd())


def api(steps):
    from fastapi.testclient import TestClient

    from app.main import app

    tokens, results = {}, []
    with TestClient(app) as client:
        for step in steps:
            if "login" in step:
                r = client.post("/api/v1/auth/login",
                                data={"username": step["login"]["email"],
                                      "password": step["login"]["password"]})
                if r.status_code == 200:
                    tokens[step["as"]] = r.json()["access_token"]
            else:
                headers = {}
                if step.get("as"):
                    headers["Authorization"] = f"Bearer {tokens[step['as']]}"
                r = client.request(step["method"], step["path"], json=step.get("json"),
                                   headers=headers)
            try:
                body = r.json()
            except ValueError:
                body = r.text
            results.append({"status": r.status_code, "body": body})
    return results


def main():
    what = sys.argv[1]
    if what == "alembic":
        from alembic.config import main as alembic_main

        alembic_main(argv=sys.argv[2:], prog="alembic")
    elif what == "create_all":
        import app.models.item  # noqa: F401 (registers the table)
        import app.models.user  # noqa: F401
        from app.db.database import Base, sync_engine

        Base.metadata.create_all(sync_engine)
    elif what == "api":
        steps = json.load(sys.stdin)
        # The application prints as it starts; stdout is for the results.
        with contextlib.redirect_stdout(sys.stderr):
            results = api(steps)
        json.dump(results, sys.stdout, default=str)
    else:
        sys.exit(f"unknown action {what}")


if __name__ == "__main__":
    main()
