"""`genannot euk`: whole-genome eukaryotic annotation.

The segmentation model (issue 5) and its decoder (issue 6) are not shipped yet, so this entry point
validates its input and output like the finished command will, then says plainly that the
pipeline does not exist rather than writing an empty or fake annotation.
"""

from __future__ import annotations

from genannot.errors import NotBuiltError
from genannot.io.atomic import check_writable
from genannot.io.fasta import read_fasta


def run_euk(*, input: str, output: str | None, command_line: str, **_options: object) -> None:
    check_writable(output)
    for _record in read_fasta(input):
        pass
    raise NotBuiltError(
        "whole-genome eukaryotic annotation is not available yet in this version "
        "(no eukaryotic segmentation model is shipped); nothing was written"
    )
