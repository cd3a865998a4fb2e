"""GenBank and EMBL flat files as genome input: read as FASTA, IDs as Biopython gives them, every error one line."""

from __future__ import annotations

import gzip
import io
import random

import pytest
from Bio import SeqIO

from genannot.errors import InputError
from genannot.io.fasta import read_fasta

from test_fasta import expect_error  # noqa: F401  (the FASTA reader's error check)


def genbank(name: str, seq: str, accession: str | None = None, definition: str = "Test organism chromosome, complete genome.") -> str:
    """One GenBank record as NCBI writes it: DEFINITION continued on a second line, sequence in ORIGIN blocks."""
    head = [f"LOCUS       {name:<16}{len(seq):>12} bp    DNA     linear   BCT 01-JAN-2020",
            f"DEFINITION  {definition[:40]}"]
    if definition[40:]:
        head.append(f"            {definition[40:]}")
    if accession:
        head += [f"ACCESSION   {accession}", f"VERSION     {accession}.2"]
    head += ["FEATURES             Location/Qualifiers", f"     source          1..{len(seq)}",
             '                     /organism="Test organism"', "ORIGIN      "]
    body = [f"{i + 1:>9} " + " ".join(seq[j : j + 10] for j in range(i, min(i + 60, len(seq)), 10))
            for i in range(0, len(seq), 60)]
    return "\n".join(head + body + ["//"]) + "\n"


def embl(accession: str, seq: str, description: str = "Test organism chromosome") -> str:
    head = [f"ID   {accession}; SV 1; linear; genomic DNA; STD; PRO; {len(seq)} BP.", "XX", f"AC   {accession};", "XX",
            f"DE   {description}", "XX", "FH   Key             Location/Qualifiers", f"FT   source          1..{len(seq)}",
            "XX", f"SQ   Sequence {len(seq)} BP;"]
    body = ["     " + " ".join(seq[j : j + 10] for j in range(i, min(i + 60, len(seq)), 10)).ljust(66) + f"{min(i + 60, len(seq)):>10}"
            for i in range(0, len(seq), 60)]
    return "\n".join(head + body + ["//"]) + "\n"


def random_seq(n: int, seed: int) -> str:
    rnd = random.Random(seed)
    return "".join(rnd.choice("acgt") for _ in range(n))


A, B = random_seq(1234, 1), random_seq(777, 2) + "nnnnrykm" + random_seq(50, 3)


@pytest.mark.parametrize("fmt", ["genbank", "embl"])
def test_records_ids_and_sequence_as_biopython_reads_them(tmp_path, fmt):
    text = (genbank("TESTA", A, "NC_000001") + genbank("TESTB", B)) if fmt == "genbank" else (embl("X00001", A) + embl("X00002", B))
    path = tmp_path / f"in.{fmt}"
    path.write_text(text)
    recs = list(read_fasta(path))
    bio = list(SeqIO.parse(str(path), fmt))
    assert [r.id for r in recs] == [b.id for b in bio] == (["NC_000001.2", "TESTB"] if fmt == "genbank" else ["X00001.1", "X00002.1"])
    assert [r.description for r in recs] == [b.description.rstrip(".") for b in bio]
    assert recs[0].seq == A.upper() and recs[1].seq == B.upper().replace("R", "N").replace("Y", "N").replace("K", "N").replace("M", "N")
    assert all(r.soft_mask == [] for r in recs)  # a flat file's lowercase is its convention, not a repeat mask


def test_old_style_embl_ids_as_biopython_reads_them(tmp_path):
    """An old-style ID line ('ID   ENTRYNAME  standard; ...') names no accession: the SV line does, else AC."""
    text = embl("X00001", A).replace("ID   X00001; SV 1; linear; genomic DNA; STD; PRO;", "ID   ENTRY1     standard; DNA; PRO;")
    path = tmp_path / "old.embl"
    for variant, expected in ((text.replace("XX\nDE", "XX\nSV   X00001.3\nDE"), "X00001.3"), (text, "X00001"),
                              (text.replace("AC   X00001;\n", ""), "ENTRY1")):
        path.write_text(variant)
        assert [r.id for r in read_fasta(path)] == [b.id for b in SeqIO.parse(str(path), "embl")] == [expected]


def test_gzip_crlf_and_stdin_like_streams(tmp_path):
    text = genbank("TESTA", A, "NC_000001").replace("\n", "\r\n")
    path = tmp_path / "in.gbk.gz"
    path.write_bytes(gzip.compress(text.encode()))
    (rec,) = read_fasta(path)
    assert rec.id == "NC_000001.2" and rec.seq == A.upper()
    (rec,) = read_fasta(io.BytesIO(text.encode()))
    assert rec.seq == A.upper()


def test_errors_keep_the_flat_files_line_numbers(tmp_path):
    one = genbank("TESTA", A, "NC_000001")
    origin_line = one.splitlines().index("ORIGIN      ") + 1
    path = tmp_path / "dup.gbk"
    path.write_text(one + one)
    expect_error(path, "duplicate record ID 'NC_000001.2'", f"line {len(one.splitlines()) + origin_line}")


def test_a_record_without_sequence_is_an_error(tmp_path):
    no_origin = "\n".join(line for line in genbank("TESTA", "") .splitlines() if line != "ORIGIN      ") + "\n"
    path = tmp_path / "noseq.gbk"
    path.write_text(no_origin)
    expect_error(path, "'TESTA'", "no sequence", "ORIGIN")
    path.write_text(no_origin.replace("//\n", "") + genbank("TESTB", A))
    expect_error(path, "'TESTA'", "no sequence", "before the next record")
    path.write_text(genbank("TESTA", "", "NC_1"))  # an ORIGIN without letters
    expect_error(path, "'NC_1.2'", "no sequence")


def test_a_truncated_file_is_an_error(tmp_path):
    path = tmp_path / "cut.gbk"
    path.write_text(genbank("TESTA", A).replace("//\n", ""))
    expect_error(path, "ends inside record 'TESTA'", "truncated")


def test_only_records_may_follow_a_record(tmp_path):
    """After '//' only blank lines or the next record's opening line: an EMBL record after GenBank ones is not read
    as nothing."""
    path = tmp_path / "mixed.gbk"
    path.write_text(genbank("TESTA", A) + "\n" + embl("X1", A))
    line = len(genbank("TESTA", A).splitlines()) + 2
    expect_error(path, f"line {line}", "should open with a LOCUS line", "'ID   X1; SV 1")


def test_protein_and_bad_letters(tmp_path):
    path = tmp_path / "prot.gbk"
    path.write_text(genbank("PROT1", "mkvliepqrstwy" * 10))
    expect_error(path, "'PROT1'", "protein")
    path.write_text(genbank("TESTA", A[:100] + "*" + A[100:]))
    expect_error(path, "'TESTA'", "position 101")


def test_every_prefix_reads_or_fails_with_one_line(tmp_path):
    text = (genbank("TESTA", A[:200], "NC_000001") + genbank("TESTB", A[:70])).encode()
    for n in range(0, len(text) + 1, 7):
        path = tmp_path / f"p{n}.gbk"
        path.write_bytes(text[:n])
        try:
            recs = list(read_fasta(path))
        except InputError as e:
            assert "\n" not in str(e)
            continue
        assert all(set(r.seq) <= set("ACGTN") and len(r) for r in recs)


def test_prok_annotates_a_genbank_file_as_its_fasta(tmp_path):
    """The same genes, IDs and sequence-region lines from a GenBank file as from the FASTA of its sequence."""
    from genannot.cli import main

    seq = random_seq(30_000, 7)
    gbk, fa = tmp_path / "g.gbk", tmp_path / "g.fa"
    gbk.write_text(genbank("TESTA", seq, "NC_000001"))
    fa.write_text(f">NC_000001.2 Test organism chromosome, complete genome\n{seq.upper()}\n")
    outs = []
    for path in (gbk, fa):
        out = tmp_path / f"{path.name}.gff3"
        assert main(["prok", str(path), "-o", str(out), "-q", "--threads", "1"]) == 0
        outs.append([line for line in out.read_text().splitlines() if not line.startswith("#command")])
    assert outs[0] == outs[1] and any(line.startswith("##sequence-region NC_000001.2 1 30000") for line in outs[0])
