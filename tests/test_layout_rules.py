"""Project rules that keep the code base readable: module size, the package boundary, the fixed layout."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MAX_LINES = 400


def _modules(*packages):
    for pkg in packages:
        yield from sorted((REPO / pkg).rglob("*.py"))


def test_modules_stay_under_the_line_budget():
    long = {
        str(p.relative_to(REPO)): n
        for p in _modules("tinyengine_codegen", "tinynas", "tinyml_cli")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"


def test_code_generator_never_imports_tinynas():
    offenders = []
    for p in _modules("tinyengine_codegen"):  # the CLI (tinyml_cli) sits above both packages
        for node in ast.walk(ast.parse(p.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{p.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] == "tinynas"]
    assert not offenders, offenders


def test_libraries_never_import_the_cli():
    offenders = []
    for p in _modules("tinyengine_codegen", "tinynas"):
        for node in ast.walk(ast.parse(p.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [f"{p.relative_to(REPO)}: {n}" for n in names if n.split(".")[0] == "tinyml_cli"]
    assert not offenders, offenders


def test_fixed_layout_exists():
    for name in (
        "pyproject.toml",
        "README.md",
        "tinynas",
        "tinyengine_codegen",
        "templates",
        "firmware",
        "boards",
        "tests",
        ".ci/run",
    ):
        assert (REPO / name).exists(), name
    ci = (REPO / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in (REPO / "README.md").read_text()


TYPED = ("tinyengine_codegen/ir", "tinyengine_codegen/planner", "tinyengine_codegen/passes")
TYPED_FILES = ("tinyengine_codegen/kernels/spec.py", "tinyengine_codegen/target.py", "tinyengine_codegen/options.py")


def test_ir_planner_passes_and_kernel_spec_type_check():
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent", "--no-incremental"]
        + [*TYPED, *TYPED_FILES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-1000:]
