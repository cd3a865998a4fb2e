"""Atomic output: renamed on success, nothing left behind on error or Ctrl-C, stdout only on success."""

from __future__ import annotations

import io
import os
import sys

import pytest

from genannot.errors import InputError, ResourceError
from genannot.io.atomic import atomic_output, atomic_outputs, check_not_inputs, check_writable


def test_success_renames(tmp_path):
    target = tmp_path / "out.gff3"
    with atomic_output(target) as fh:
        fh.write("hello\n")
        assert not target.exists()  # nothing visible until the block ends
        assert len(os.listdir(tmp_path)) == 1  # the temporary file sits beside the target
    assert target.read_text() == "hello\n"
    assert os.listdir(tmp_path) == ["out.gff3"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_replaces_existing(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_output(str(target)) as fh:
        fh.write("new")
    assert target.read_text() == "new"


def test_symlink_target_written_through(tmp_path):
    real = tmp_path / "data" / "out.gff3"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "out.gff3"
    link.symlink_to(real)
    with atomic_output(link) as fh:
        fh.write("new")
    assert link.is_symlink() and real.read_text() == "new"
    assert os.listdir(real.parent) == ["out.gff3"] and sorted(os.listdir(tmp_path)) == ["data", "out.gff3"]
    dangling = tmp_path / "new.gff3"
    dangling.symlink_to(tmp_path / "data" / "made.gff3")
    with atomic_output(dangling) as fh:
        fh.write("made")
    assert dangling.is_symlink() and (tmp_path / "data" / "made.gff3").read_text() == "made"


def test_binary_mode(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_output(target, "wb") as fh:
        fh.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_error_leaves_nothing(tmp_path, exc):
    target = tmp_path / "out.txt"
    with pytest.raises(exc):
        with atomic_output(target) as fh:
            fh.write("partial")
            raise exc()
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_error_keeps_existing_target(tmp_path, exc):
    target = tmp_path / "out.txt"
    target.write_text("previous")
    with pytest.raises(exc):
        with atomic_output(target) as fh:
            fh.write("partial")
            raise exc()
    assert target.read_text() == "previous"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_stdout_only_on_success(capsysbinary):
    with pytest.raises(ValueError):
        with atomic_output("-") as fh:
            fh.write("never shown\n")
            raise ValueError
    assert capsysbinary.readouterr().out == b""
    with atomic_output("-") as fh:
        fh.write("shown\n")
        assert capsysbinary.readouterr().out == b""  # still buffered
    assert capsysbinary.readouterr().out == b"shown\n"


def test_stdout_none_and_binary(capsysbinary):
    with atomic_output(None, "wb") as fh:
        fh.write(b"raw\n")
    assert capsysbinary.readouterr().out == b"raw\n"


def test_stdout_text_only_stream(monkeypatch):
    fake = io.StringIO()
    monkeypatch.setattr(sys, "stdout", fake)
    with atomic_output("-") as fh:
        fh.write("text ü\n")
    assert fake.getvalue() == "text ü\n"


def test_several_outputs_commit_together(tmp_path, capsysbinary):
    a, b = tmp_path / "a.gff3", tmp_path / "b.faa"
    with atomic_outputs({"gff3": "-", "proteins": a, "genes": None, "dna": b}, mode={"dna": "wb"}) as out:
        assert set(out) == {"gff3", "proteins", "dna"}
        out["gff3"].write("g\n")
        out["proteins"].write(">p\nM\n")
        out["dna"].write(b">d\nATG\n")
        assert not a.exists() and not b.exists()
    assert a.read_text() == ">p\nM\n" and b.read_bytes() == b">d\nATG\n"
    assert capsysbinary.readouterr().out == b"g\n"
    assert sorted(os.listdir(tmp_path)) == ["a.gff3", "b.faa"]


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_several_outputs_error_leaves_nothing(tmp_path, capsysbinary, exc):
    with pytest.raises(exc):
        with atomic_outputs({"x": tmp_path / "x", "y": tmp_path / "y", "z": "-"}) as out:
            for fh in out.values():
                fh.write("data")
            raise exc()
    assert os.listdir(tmp_path) == []
    assert capsysbinary.readouterr().out == b""


def test_two_stdout_outputs_rejected():
    with pytest.raises(InputError):
        with atomic_outputs({"a": "-", "b": "-"}):
            pass


def test_same_file_twice_rejected(tmp_path):
    with pytest.raises(InputError):
        with atomic_outputs({"a": tmp_path / "f", "b": str(tmp_path / "f")}):
            pass
    assert os.listdir(tmp_path) == []


def test_dev_null_written_directly():
    with atomic_output("/dev/null") as fh:
        fh.write("discarded")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_check_writable(tmp_path):
    check_writable(None)
    check_writable("-")
    check_writable(tmp_path / "new.gff3")
    for bad, fragment in [(tmp_path, "directory"), (tmp_path / "missing" / "x.gff3", "does not exist")]:
        with pytest.raises(InputError) as info:
            check_writable(bad)
        assert fragment in str(info.value) and "\n" not in str(info.value)
    assert os.listdir(tmp_path) == []


def test_unwritable_target_raises_input_error(tmp_path):
    with pytest.raises(InputError):
        with atomic_output(tmp_path / "no" / "such" / "dir.txt"):
            pass


def test_bad_mode():
    with pytest.raises(ValueError):
        with atomic_output("-", "a"):
            pass


def test_check_not_inputs(tmp_path):
    src = tmp_path / "in.fa"
    src.write_text(">a\nACGT\n")
    (tmp_path / "link.fa").symlink_to(src)
    check_not_inputs({"-o": "-", "--proteins": None, "--genes": tmp_path / "new.faa"}, [src, "-", None])
    check_not_inputs({"-o": "/dev/null"}, ["/dev/null"])  # devices are written directly, never replaced
    for out, inp in [(src, src), (str(tmp_path / "link.fa"), src), (src, tmp_path / "link.fa")]:
        with pytest.raises(InputError, match="would overwrite the input"):
            check_not_inputs({"-o": out}, ["-", inp])
    assert src.read_text() == ">a\nACGT\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("size", [10, 1 << 20])  # flushed at commit, or already inside the block
def test_full_disk_is_one_line_error(size):
    for mode, data in (("w", "x" * size), ("wb", b"x" * size)):
        with pytest.raises(ResourceError, match="^cannot write /dev/full: No space left on device$"):
            with atomic_output("/dev/full", mode) as fh:
                fh.write(data)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_stdout_is_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.FileIO("/dev/full", "w")))  # unbuffered below the text layer
    with pytest.raises(ResourceError, match="^cannot write standard output: No space left on device$"):
        with atomic_outputs({"gff3": "-", "proteins": tmp_path / "p.faa"}) as out:
            out["gff3"].write("g\n")
            out["proteins"].write(">p\nM\n")
    assert os.listdir(tmp_path) == ["p.faa"]  # files are committed before stdout is copied out
