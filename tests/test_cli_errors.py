"""Bad input found by an audit: one line on stderr and a non-zero exit, never a traceback, an
overwritten input, a half-written file or a silently wrong (empty) answer."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from genannot.cli import main

WEIGHTS = Path(__file__).resolve().parents[1] / "genannot" / "models" / "weights"
FASTA = ">chr1 test\nACGTACGTACGTACGTACGTACGTACGTACGTACGTACGT\n"
GFF3 = "##gff-version 3\nchr1\tx\tgene\t1\t30\t.\t+\t.\tID=g1\nchr1\tx\tCDS\t1\t30\t.\t+\t0\tID=c1;Parent=g1\n"


def _error(capsys) -> str:
    """The one line on stderr (asserted to be exactly one, with no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("genannot: error:") and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def files(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.fa").write_text(FASTA)
    (tmp_path / "ref.gff3").write_text(GFF3)
    return tmp_path


@pytest.mark.parametrize(
    "argv",
    [
        ["prok", "in.fa", "-o", "in.fa"],
        ["prok", "in.fa", "-o", "out.gff3", "--proteins", "in.fa"],
        ["prok", "in.fa", "-o", "out.gff3", "--candidates", "./in.fa"],
        ["prok", "link.fa", "-o", "in.fa"],
        ["euk", "in.fa", "-o", "out.gff3", "--proteins", "in.fa"],
        ["eval", "prok", "ref.gff3", "ref.gff3", "-o", "ref.gff3"],
        ["eval", "euk", "ref.gff3", "ref.gff3", "-o", "ref.gff3"],
        ["train", "prok", "--genome", "in.fa", "--annotation", "ref.gff3", "-o", "in.fa"],
        ["train", "euk", "--genome", "in.fa", "--annotation", "ref.gff3", "-o", "ref.gff3"],
    ],
)
def test_output_that_is_an_input_is_refused(files, capsys, argv):
    (files / "link.fa").symlink_to(files / "in.fa")
    assert main(argv) == 2
    assert "would overwrite the input" in _error(capsys)
    assert (files / "in.fa").read_text() == FASTA and (files / "ref.gff3").read_text() == GFF3
    assert sorted(os.listdir(files)) == ["in.fa", "link.fa", "ref.gff3"]


@pytest.mark.parametrize(
    "kind,argv",
    [
        ("euk-seg-small", ["euk", "in.fa", "--model", "m", "-o", "m/config.json"]),
        ("euk-seg-small", ["euk", "in.fa", "--model", "m", "-o", "out.gff3", "--proteins", "m/genemodel.npz"]),
        ("prok-cds-small", ["prok", "in.fa", "--model", "m", "-o", "m/model.safetensors"]),
        ("prok-tis-small", ["prok", "in.fa", "--tis-model", "m", "-o", "out.gff3", "--genes", "./m/vocab.txt"]),
    ],
)
def test_output_that_is_a_model_file_is_refused(files, capsys, kind, argv):
    shutil.copytree(WEIGHTS / kind, files / "m")
    before = {f.name: f.read_bytes() for f in (files / "m").iterdir()}
    assert main(argv) == 2
    assert "would overwrite the input" in _error(capsys)
    assert {f.name: f.read_bytes() for f in (files / "m").iterdir()} == before
    assert not (files / "out.gff3").exists()


@pytest.mark.parametrize("kind", ["prok", "euk"])
def test_failed_training_leaves_no_output_directory(files, capsys, kind):
    (files / "other.gff3").write_text(GFF3.replace("chr1", "chrX"))
    assert main(["train", kind, "--genome", "in.fa", "--annotation", "other.gff3", "-o", "new/model"]) == 2
    assert "chrX" in _error(capsys)
    assert not (files / "new").exists()


@pytest.mark.parametrize(
    "argv,declared",
    [
        (["prok", "in.fa", "--model", str(WEIGHTS / "prok-tis-small")], "prok-tis"),
        (["prok", "in.fa", "--model", str(WEIGHTS / "euk-seg-small")], "euk-seg"),
        (["prok", "in.fa", "--tis-model", str(WEIGHTS / "prok-cds-small")], "prok-cds"),
        (["euk", "in.fa", "--model", str(WEIGHTS / "prok-cds-small")], "prok-cds"),
    ],
)
def test_model_directory_of_another_kind_is_refused(files, capsys, argv, declared):
    assert main([*argv, "-o", "out.gff3"]) == 3
    assert f"is a {declared} model, but a" in _error(capsys)
    assert not (files / "out.gff3").exists()


@pytest.mark.parametrize("option", ["--net-weight", "--softmask-penalty"])
@pytest.mark.parametrize("value", ["nan", "inf", "1e308", "-1"])
def test_decoder_weights_must_be_finite(files, capsys, option, value):
    assert main(["euk", "in.fa", option, value, "-o", "out.gff3"]) == 2
    err = capsys.readouterr().err
    assert "Invalid value" in err and "Traceback" not in err
    assert not (files / "out.gff3").exists()


@pytest.mark.parametrize("prefix", ["", "-", "bg/", "."])
def test_bedgraph_prefix_must_name_files(files, capsys, prefix):
    (files / "bg").mkdir()
    assert main(["euk", "in.fa", "--bedgraph", prefix, "-o", "out.gff3"]) == 2
    assert "--bedgraph" in _error(capsys)
    assert sorted(os.listdir(files)) == ["bg", "in.fa", "ref.gff3"] and not os.listdir(files / "bg")


def test_bedgraph_of_a_non_latin1_sequence_id(files, capsys):
    (files / "u.fa").write_text(">chré_染色体\n" + "ACGT" * 10 + "\n", encoding="utf-8")
    assert main(["euk", "u.fa", "--bedgraph", "bg", "-o", "out.gff3", "--threads", "1"]) == 0, capsys.readouterr().err
    lines = [ln for f in sorted(files.glob("bg.*.bedgraph.gz")) for ln in gzip.decompress(f.read_bytes()).decode("utf-8").splitlines()]
    assert len(list(files.glob("bg.*.bedgraph.gz"))) == 10
    assert lines and all(ln.startswith("chré_染色体\t") for ln in lines)


@pytest.fixture
def euk_copy(tmp_path) -> Path:
    d = tmp_path / "euk-model"
    shutil.copytree(WEIGHTS / "euk-seg-small", d)
    return d


@pytest.mark.parametrize(
    "damage",
    [("genemodel.npz", 0), ("genemodel.npz", 500), ("model.safetensors", 0), ("model.safetensors", 100_000)],
    ids=["empty-npz", "cut-npz", "empty-safetensors", "cut-safetensors"],
)
def test_corrupt_euk_model_is_a_model_error(files, capsys, euk_copy, damage):
    """An empty genemodel.npz raises EOFError, which click would report as "interrupted" (rc 130)."""
    name, keep = damage
    path = euk_copy / name
    path.write_bytes(path.read_bytes()[:keep])
    assert main(["euk", "in.fa", "--model", str(euk_copy), "-o", "out.gff3"]) == 3
    assert "corrupt or truncated" in _error(capsys)
    assert sorted(os.listdir(files)) == ["euk-model", "in.fa", "ref.gff3"]


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_full_disk_is_one_line(files, capsys):
    assert main(["eval", "prok", "ref.gff3", "ref.gff3", "-o", "/dev/full"]) == 6
    assert _error(capsys) == "genannot: error: cannot write /dev/full: No space left on device"


TRAIN = ["--genome", "in.fa", "--annotation", "ref.gff3"]


@pytest.mark.parametrize("command", ["prok", "euk"])
@pytest.mark.parametrize(
    "output,message",
    [("", "empty"), ("other.txt", "is a file"), ("other.txt/m", "is not a directory")]
    + ([("/sys/genannot-m", "cannot create output directory")] if sys.platform == "linux" else []),
)
def test_train_output_directory_is_checked_first(files, capsys, command, output, message):
    (files / "other.txt").write_text("keep")
    assert main(["train", command, *TRAIN, "-o", output]) == 2
    assert message in _error(capsys)
    assert sorted(os.listdir(files)) == ["in.fa", "other.txt", "ref.gff3"]


@pytest.mark.parametrize(
    "setting",
    ["hidden_size=abc", "hidden_size=-5", "hidden_size=0", "hidden_size=130", "lr=fast", "lr=0", "lr=NaN",
     "window_schedule=[]", "window_schedule=[0]", "channels=[8,\"a\"]", "dropout=1.5", "n_outputs=3",
     "softmask=maybe", "signals=1", "batch_bp=-1", "time_limit_s=0", "init_model=\"\""],
)
def test_train_euk_settings_are_checked_first(files, capsys, setting):
    assert main(["train", "euk", *TRAIN, "-o", "m", "--set", setting]) == 2
    assert _error(capsys).startswith("genannot: error: --set")
    assert not (files / "m").exists()


def test_train_euk_settings_of_the_right_type_pass_the_check():
    from genannot.euk.train import DEFAULTS, check_settings

    check_settings({"hidden_size": 128, "lr": 1, "window_schedule": [2048, 4096], "softmask": "auto", "signals": True,
                     "mlm_steps": 0, "batch_bp": None, "time_limit_s": 0.5, "init_model": "dir", "no_such": "x"}, DEFAULTS)
    check_settings(json.loads('{"n_outputs": 5, "dropout": 0, "intergenic_keep": 1}'), DEFAULTS)


@pytest.mark.parametrize(
    "argv",
    [["prok", "in.fa", "-g", "abc"], ["prok", "in.fa", "--min-length", "10"], ["prok", "in.fa", "--min-length", str(2**64)],
     ["prok", "in.fa", "--min-edge-length", str(2**64)], ["prok", "in.fa", "--threads", "100000"],
     ["euk", "in.fa", "--threads", str(2**31)], ["prok", "in.fa", "--format", "bed"], ["euk", "in.fa", "--no-such-option"],
     ["prok"]],
)
def test_bad_option_values_are_one_line(files, capsys, argv):
    """Click's usage errors come out as one line, as every other input error (not its four-line block)."""
    assert main([*argv, "-o", "out.gff3"]) == 2
    assert "--help" in _error(capsys)
    assert not (files / "out.gff3").exists()


@pytest.mark.parametrize("argv", [["eval", "prok", "-", "-"], ["eval", "euk", "-", "-"],
                                  ["eval", "prok", "ref.gff3", "-", "--verified", "-"]])
def test_eval_reads_at_most_one_input_from_stdin(files, capsys, argv):
    assert main(argv) == 2
    assert "only one input can be read from stdin" in _error(capsys)


def test_a_terminating_signal_removes_unfinished_outputs(files, capsys, monkeypatch):
    """SIGTERM (as `timeout` or a batch scheduler sends) ends a run as Ctrl-C does: its outputs, opened early, are
    removed, one line says why, the exit status is 128 + the signal, and the previous handler is back."""
    import signal
    import time

    import genannot.euk.pipeline as pipeline

    def killed(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM was not trapped")

    def untrapped(signum, frame):  # what runs if main() did not trap the signal (instead of killing the test run)
        raise AssertionError("SIGTERM reached the handler main() should have replaced")

    monkeypatch.setattr(pipeline, "_self_trained", killed)
    before = signal.signal(signal.SIGTERM, untrapped)
    try:
        assert main(["euk", "in.fa", "-o", "out.gff3", "--proteins", "p.faa", "--threads", "1"]) == 128 + signal.SIGTERM
        assert capsys.readouterr().err.strip() == "genannot: terminated (SIGTERM)"
        assert sorted(os.listdir(files)) == ["in.fa", "ref.gff3"]
        assert signal.getsignal(signal.SIGTERM) is untrapped
    finally:
        signal.signal(signal.SIGTERM, before)
