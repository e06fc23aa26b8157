"""Input types for the machine API: values every supported database can store.

Found by the schemathesis run (tests/test_api_fuzz.py): PostgreSQL refuses text with a NUL character
and both databases refuse integers beyond 64 bits, so such input reached the database and answered 500.
Declaring the limits in the request schema turns them into the usual 422 `invalid_request` and puts
them in /api/v1/openapi.json for client authors.
"""

from typing import Annotated

from pydantic import Field

MAX_DB_INT = 2**63 - 1

# A string without NUL characters (PostgreSQL text and jsonb cannot hold them).
Text = Annotated[str, Field(pattern=r"^[^\x00]*$")]

# An integer that fits a 64-bit database column (ids, sequence numbers, tree sizes).
DbInt = Annotated[int, Field(ge=-MAX_DB_INT - 1, le=MAX_DB_INT)]
