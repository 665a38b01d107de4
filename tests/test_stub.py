"""The extension's type stub (python/clt_kit/_prep.pyi) matches the built extension: mypy's stubtest
imports clt_kit._prep and compares every public name, parameter (name, kind, default) and class
member with the stub next to it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import clt_kit
from clt_kit import _prep

PACKAGE = Path(clt_kit.__file__).parent


def stubtest(stub_root: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """stubtest of clt_kit._prep against the stubs under `stub_root`. MYPYPATH names them: without
    it mypy finds no stub for an installed package that is not marked typed, and stubtest reports
    success having compared nothing."""
    env = {**os.environ, "MYPYPATH": str(stub_root),
           "PYTHONPATH": os.pathsep.join(p for p in (str(PACKAGE.parent), os.environ.get("PYTHONPATH")) if p)}
    return subprocess.run([sys.executable, "-m", "mypy.stubtest", "clt_kit._prep"], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=300)


def test_the_stub_matches_the_extension(tmp_path: Path) -> None:
    assert Path(_prep.__file__).parent == PACKAGE  # the extension checked is the one beside the stub
    run = stubtest(PACKAGE.parent, tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "checked 1 module" in run.stdout or "in 1 module" in run.stdout, run.stdout


def test_stubtest_fails_when_the_stub_and_the_extension_differ(tmp_path: Path) -> None:
    stub = (PACKAGE / "_prep.pyi").read_text(encoding="utf-8")
    # One function left out, a keyword parameter renamed in another, and an options field renamed.
    without = re.sub(r"^def normalize_text\(.*$\n", "", stub, count=1, flags=re.M)
    renamed = re.sub(r"\bthreads: int =", "n_threads: int =", without, count=1).replace("def char_n(self)", "def char_size(self)")
    assert without != stub and "n_threads" in renamed and "char_size" in renamed
    (tmp_path / "stubs" / "clt_kit").mkdir(parents=True)
    (tmp_path / "stubs" / "clt_kit" / "__init__.pyi").write_text("", encoding="utf-8")
    (tmp_path / "stubs" / "clt_kit" / "_prep.pyi").write_text(renamed, encoding="utf-8")
    run = stubtest(tmp_path / "stubs", tmp_path)
    assert run.returncode != 0
    assert "clt_kit._prep.normalize_text is not present in stub" in run.stdout, run.stdout
    assert "n_threads" in run.stdout, run.stdout
    assert "clt_kit._prep.NearDupOptions.char_n is not present in stub" in run.stdout, run.stdout
