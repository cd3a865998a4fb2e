"""CLI surface: in-process `main(argv)`, exit codes, one-line errors, no output file on failure."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest

from genannot import __version__
from genannot.cli import main

GOOD_FASTA = ">chr1 test\nACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n"

BAD_INPUTS = {
    "missing": None,
    "directory": "DIR",
    "empty": b"",
    "no_header": b"ACGTACGT\n",
    "protein": b">p1\nMKVLEEFQPRST\n",
    "duplicate_ids": b">a\nACGT\n>a\nACGT\n",
    "zero_length": b">a\n>b\nACGT\n",
    "corrupt_gzip": None,  # filled below: a truncated gzip stream
}
_GZ = gzip.compress(b">a\n" + bytes(random.Random(1).choice(b"ACGT") for _ in range(20000)))
BAD_INPUTS["corrupt_gzip"] = _GZ[: len(_GZ) // 2]


def _make_input(tmp_path: Path, case: str) -> str:
    content = BAD_INPUTS[case]
    if case == "missing":
        return str(tmp_path / "does_not_exist.fa")
    if content == "DIR":
        d = tmp_path / "a_directory"
        d.mkdir()
        return str(d)
    path = tmp_path / ("in.fa.gz" if case == "corrupt_gzip" else "in.fa")
    path.write_bytes(content)
    return str(path)


def test_no_arguments_prints_usage(capsys):
    assert main([]) == 2
    assert "Usage:" in capsys.readouterr().err


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["prok", "--help"], ["euk", "--help"], ["train", "prok", "--help"], ["train", "euk", "--help"],
     ["eval", "prok", "--help"], ["eval", "euk", "--help"], ["models", "--help"]],
)
def test_help(argv, capsys):
    assert main(argv) == 0
    assert "Usage:" in capsys.readouterr().out


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "genannot", "--help"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Usage:" in r.stdout


@pytest.mark.parametrize(
    "argv",
    [["nonsense"], ["prok"], ["prok", "x.fa", "--format", "bed"], ["prok", "x.fa", "--batch-size", "0"],
     ["prok", "x.fa", "--batch-size", "many"], ["prok", "x.fa", "--threads", "-1"]],
)
def test_usage_errors_exit_2(argv, capsys):
    assert main(argv) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize("command", ["prok", "euk"])
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_matrix(tmp_path, capsys, request, command, case):
    src = _make_input(tmp_path, case)
    out = tmp_path / "out" / "result.gff3"
    out.parent.mkdir()
    model = ["--model", str(request.getfixturevalue("tiny_euk_model"))] if command == "euk" else []
    code = main([command, src, *model, "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genannot: error:"), err
    assert "Traceback" not in err
    assert list(out.parent.iterdir()) == [], "no output (and no temp file) may be left behind"


def test_unwritable_output_dir(tmp_path, capsys):
    src = tmp_path / "in.fa"
    src.write_text(GOOD_FASTA)
    code = main(["prok", str(src), "-o", str(tmp_path / "no" / "such" / "dir" / "out.gff3")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("genannot: error:") and len(err.strip().splitlines()) == 1


def test_train_requires_pairs(tmp_path, capsys):
    code = main(["train", "prok", "--genome", "a.fa", "--genome", "b.fa", "--annotation", "a.gff3", "-o", str(tmp_path / "m")])
    assert code == 2
    assert "in pairs" in capsys.readouterr().err


def test_euk_without_a_model_uses_the_embedded_default(tmp_path, capsys, gff3_validate):
    src = tmp_path / "in.fa"
    src.write_text(GOOD_FASTA)
    out = tmp_path / "out.gff3"
    assert main(["euk", str(src), "-o", str(out)]) == 0, capsys.readouterr().err
    gff3_validate(out)
    assert "#model genannot-euk-seg-small " in out.read_text()


def test_unknown_model_is_one_line(tmp_path, capsys):
    src = tmp_path / "in.fa"
    src.write_text(GOOD_FASTA)
    code = main(["prok", str(src), "--model", "no-such-model", "-o", str(tmp_path / "o.gff3")])
    err = capsys.readouterr().err
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "o.gff3").exists()
