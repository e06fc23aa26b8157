"""Input types for the machine API: values every supported database can store.

Found by the schemathesis run (tests/test_api_fuzz.py): PostgreSQL refuses text with a NUL character
and both databases refuse integers beyond 64 bits, so such input reached the database and answered 500.
Declaring the limits in the request schema turns them into the usual 422 `invalid_request` and puts
them in /api/v1/openapi.json for client authors.
"""

from typing import Annotated, Any

from ninja import Form
from pydantic import AfterValidator, Field

MAX_DB_INT = 2**63 - 1
NO_NUL = r"^[^\x00]*$"

# A string without NUL characters (PostgreSQL text and jsonb cannot hold them).
Text = Annotated[str, Field(pattern=NO_NUL)]


def form_text(default: str = "") -> Any:
    """An optional multipart form field of such text: `note: str = form_text("")`. (A required one is
    `Form[Text]`; `Form[Text] = ""` would drop the default and make the field required, and one shared
    `Annotated[str, Form(...)]` alias would share its default between every field that uses it.)"""
    return Form(default, pattern=NO_NUL)


# An integer that fits a 64-bit database column (ids, sequence numbers, tree sizes).
DbInt = Annotated[int, Field(ge=-MAX_DB_INT - 1, le=MAX_DB_INT)]


def _no_nul(value: Any) -> Any:
    """Free-form JSON (records, filters, descriptions) goes to jsonb as it is: no NUL at any depth, and
    no lone surrogate (JSON's `\\ud800` escape), which neither database driver can encode."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("不能包含 NUL 字符")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("不能包含无法编码的 Unicode 代理字符") from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_nul(key)
            _no_nul(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _no_nul(item)
    return value


# A JSON object whose keys and strings (at any depth) hold no NUL character.
JsonObject = Annotated[dict[str, Any], AfterValidator(_no_nul)]
