"""`make lint`: the app's OpenAPI document, checked by openapi-spec-validator (its owners' tool).

    python -m tests.check_openapi            # the document create_app() serves, on a throwaway SQLite
    python -m tests.check_openapi FILE.json  # a document saved to a file

Exits 1, printing the validator's message, when the document is not valid OpenAPI.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from api import create_app
from api.settings import Settings


def served_document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(database_url=f"sqlite:///{folder}/openapi.sqlite3", instance_path=Path(folder))
        answer = create_app(settings).test_client().get("/api/v1/openapi.json")
        assert answer.status_code == 200, answer.status_code
        return answer.get_json()  # type: ignore[no-any-return]


def main(arguments: list[str]) -> int:
    document = json.loads(Path(arguments[0]).read_text()) if arguments else served_document()
    try:
        validate(document)
    except OpenAPIValidationError as exc:
        print(f"The OpenAPI document is not valid: {exc}", file=sys.stderr)
        return 1
    operations = sum(1 for item in document["paths"].values() for key in item if key != "parameters")
    print(f"OpenAPI {document['openapi']}: valid, {operations} operations.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
