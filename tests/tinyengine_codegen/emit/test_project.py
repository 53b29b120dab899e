"""Output folders: never delete what the toolchain did not write, replace its own outputs atomically, umask modes."""

from __future__ import annotations

import json
import os

import pytest

from tinyengine_codegen.emit.project import MANIFEST_NAME, atomic_folder, check_output_folder, write_folder
from tinyengine_codegen.errors import TinyMLError


def _user_folder(d):
    (d / "sub").mkdir(parents=True)
    (d / "notes.txt").write_text("keep")
    (d / "sub" / "a.csv").write_text("1,2")


def test_foreign_folder_is_refused_and_untouched(tmp_path):
    _user_folder(tmp_path / "out")
    with pytest.raises(TinyMLError, match="not a previous `tinyml compile` output.*--force"):
        write_folder({"model.c": "x"}, tmp_path / "out")
    assert (tmp_path / "out" / "notes.txt").read_text() == "keep"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["notes.txt", "sub"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary sibling left


def test_force_adds_files_and_keeps_the_users(tmp_path):
    _user_folder(tmp_path / "out")
    (tmp_path / "out" / "model.c").write_text("old")
    write_folder({"model.c": "new", "inc/model.h": "h"}, tmp_path / "out", force=True)
    d = tmp_path / "out"
    assert (d / "notes.txt").read_text() == "keep" and (d / "sub" / "a.csv").read_text() == "1,2"
    assert (d / "model.c").read_text() == "new" and (d / "inc" / "model.h").read_text() == "h"


def test_previous_output_is_replaced_but_not_one_the_user_added_to(tmp_path):
    out = tmp_path / "out"
    write_folder({"a.c": "1", "b.c": "2"}, out)
    assert json.loads((out / MANIFEST_NAME).read_text())["files"] == ["a.c", "b.c"]
    write_folder({"c.c": "3"}, out)
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST_NAME, "c.c"]
    (out / "mine.txt").write_text("user")
    with pytest.raises(TinyMLError, match="mine.txt"):
        write_folder({"d.c": "4"}, out)
    assert (out / "mine.txt").read_text() == "user" and (out / "c.c").exists()


def test_output_of_another_command_is_foreign(tmp_path):
    write_folder({"a.c": "1"}, tmp_path / "out", command="search")
    with pytest.raises(TinyMLError, match="tinyml compile"):
        check_output_folder(tmp_path / "out", "compile")
    check_output_folder(tmp_path / "out", "search")


def test_modes_follow_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        write_folder({"a.c": "1"}, tmp_path / "new")
    finally:
        os.umask(old)
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "new" / "a.c").stat().st_mode & 0o777 == 0o640


def test_interrupt_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt), atomic_folder(tmp_path / "out") as tmp:
        (tmp / "half.c").write_text("x")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() != 0 and not os.path.isdir("/proc"), reason="needs /proc")
def test_unwritable_location_is_a_user_error(tmp_path):
    with pytest.raises(TinyMLError, match="not writable"):
        check_output_folder("/proc/tinyml_out", "compile")
