import pytest

from graphql_api.core.validation import check_count, check_name, check_text
from graphql_api.errors import InvalidParameter, MissingParameter


def test_missing_uses_the_document_wording() -> None:
    with pytest.raises(MissingParameter) as caught:
        check_name(None, "room")
    assert caught.value.message == "params room is required"
    assert caught.value.status == 400
    assert caught.value.message_for({"room": "name"}) == "params name is required"


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("", "must not be empty"),
        ("x" * 257, "at most 256"),
        ("会" * 86, "at most 256"),
        ("a\nb", "control characters"),
        ("a\x00b", "control characters"),
        ("a\u2028b", "control characters"),
    ],
)
def test_bad_names(value: str, detail: str) -> None:
    with pytest.raises(InvalidParameter, match=detail) as caught:
        check_name(value, "room")
    assert caught.value.param == "room"


@pytest.mark.parametrize("value", ["thehome", "x" * 256, "会议室", "a b-c_d.e"])
def test_good_names(value: str) -> None:
    assert check_name(value, "room") == value


def test_counts() -> None:
    assert check_count(None, "n") is None
    assert check_count(0, "n") == 0
    with pytest.raises(InvalidParameter):
        check_count(-1, "n")
    with pytest.raises(InvalidParameter):
        check_count(2**31, "n")


def test_text_limits_count_utf8_bytes() -> None:
    assert check_text("x" * 100, "metadata", 100) == "x" * 100
    with pytest.raises(InvalidParameter, match="at most 100 bytes"):
        check_text("x" * 101, "metadata", 100)
    # 34 characters, 102 bytes.
    with pytest.raises(InvalidParameter, match="at most 100 bytes"):
        check_text("会" * 34, "metadata", 100)
    assert check_text("会" * 33, "metadata", 100)
