"""`genannot euk` end to end with a model made by `genannot train euk`."""

from __future__ import annotations

from genannot.cli import main
from test_euk_decode import planted, write_pair


def test_train_writes_the_decoders_signal_models(tiny_euk_model):
    assert (tiny_euk_model / "genemodel.npz").is_file()
    assert (tiny_euk_model / "model.safetensors").is_file()


def test_euk_annotates_with_a_trained_model(tmp_path, tiny_euk_model, gff3_validate, capsys):
    fa, _ = write_pair(tmp_path, planted(), name="genome")
    out, prot = tmp_path / "out.gff3", tmp_path / "prot.faa"
    code = main(["euk", str(fa), "--model", str(tiny_euk_model), "-o", str(out), "--proteins", str(prot)])
    assert code == 0, capsys.readouterr().err
    gff3_validate(out)
    text = out.read_text()
    assert text.startswith("##gff-version 3") and "##sequence-region chr 1" in text
    assert "#model " in text and "sha256=" in text
    cds_ids = {line.split("ID=")[1].split(";")[0].rsplit(".", 1)[0] for line in text.splitlines() if "\tCDS\t" in line}
    headers = {line[1:].split()[0] for line in prot.read_text().splitlines() if line.startswith(">")}
    assert headers == cds_ids, "one protein per coding transcript"


def test_euk_without_rc_and_splice_filter_still_valid(tmp_path, tiny_euk_model, gff3_validate):
    fa, _ = write_pair(tmp_path, planted(), name="genome")
    out = tmp_path / "out.gff3"
    assert main(["euk", str(fa), "--model", str(tiny_euk_model), "--no-rc", "--no-splice-filter", "-o", str(out)]) == 0
    gff3_validate(out)
