"""validate on a virtual board refuses to start without the instruction-counting plugin (QEMU has no cycle
counter, so the report would otherwise carry 0 cycles)."""

import pytest

from tinyengine_codegen.boards import load_board
from tinyengine_codegen.build import setup_tools
from tinyengine_codegen.errors import TinyMLError
from tinyengine_codegen.run.validate import validate_model


@pytest.mark.parametrize("board_id", ["qemu-m4", "qemu-stm32f405"])
def test_missing_counting_plugin_is_a_clear_error(board_id, tmp_path, monkeypatch):
    missing = tmp_path / "libtcount.so"
    monkeypatch.setattr(setup_tools, "plugin_path", lambda: missing)
    with pytest.raises(TinyMLError) as err:
        validate_model(None, load_board(board_id), [])
    msg = str(err.value)
    assert board_id in msg and "libtcount.so" in msg and "tinyml setup" in msg and "\n" not in msg
    assert not missing.exists()
