"""errors: a TinyMLError is one line even when its message quotes a library's multi-line text."""

from tinyengine_codegen.errors import InternalError, TinyMLError


def test_tinyml_error_is_one_line():
    err = TinyMLError("node #3 (Foo): cannot evaluate (TypeError: bad arguments.\n  1. (a: int)\r\n  2. (b: str))")
    assert str(err) == "node #3 (Foo): cannot evaluate (TypeError: bad arguments. 1. (a: int) 2. (b: str))"
    assert str(TinyMLError("plain")) == "plain"


def test_internal_error_keeps_its_text():
    assert str(InternalError("a\nb")) == "a\nb"
