"""De novo repeat masking (genannot.euk.repeats): exact golden checks on generated sequence."""

from __future__ import annotations

import random

from genannot.euk.repeats import MIN_COPIES, masked, masked_blocks, repeated_kmers

COMP = str.maketrans("ACGT", "TGCA")


def _random(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ACGT") for _ in range(n))


def _with_copies(copies: int, seed: int = 1) -> tuple[str, list[tuple[int, int]]]:
    """Unique sequence with `copies` of one 300-nt element, every other one reverse-complemented, each between
    two Ns (so that no k-mer runs from a copy into its flanks, which may by chance agree); (text, copy spans)."""
    rng = random.Random(seed)
    element = _random(rng, 300)
    parts, spans, at = [], [], 0
    for i in range(copies):
        flank = _random(rng, 2000) + "N"
        copy = (element.translate(COMP)[::-1] if i % 2 else element) + "N"
        parts += [flank, copy]
        spans.append((at + len(flank), at + len(flank) + len(copy) - 1))
        at += len(flank) + len(copy)
    parts.append(_random(rng, 500))
    return "".join(parts), spans


def _lower(text: str) -> list[int]:
    return [i for i, c in enumerate(text) if c.islower()]


def test_an_element_seen_min_copies_times_on_either_strand_is_masked_exactly():
    text, spans = _with_copies(MIN_COPIES)
    out = masked(text, repeated_kmers([text]))
    assert out.upper() == text
    assert _lower(out) == [i for a, b in spans for i in range(a, b)]


def test_one_copy_fewer_is_not_a_repeat():
    text, _ = _with_copies(MIN_COPIES - 1)
    assert len(repeated_kmers([text])) == 0
    assert masked(text, repeated_kmers([text])) == text


def test_copies_are_counted_across_records_and_masked_in_each():
    text, spans = _with_copies(MIN_COPIES)
    cut = (spans[1][1] + spans[2][0]) // 2
    a, b = text[:cut], text[cut:]
    repeats = repeated_kmers([a, b])
    assert masked(a, repeats) + masked(b, repeats) == masked(text, repeated_kmers([text]))


def test_n_breaks_the_kmers_over_it_and_input_case_is_ignored():
    text, spans = _with_copies(MIN_COPIES + 1)
    a, _ = spans[0]
    hole = text[: a + 150] + "N" + text[a + 151 :]  # one copy's middle 15-mers hold an N: MIN_COPIES copies left
    out = masked(hole.lower(), repeated_kmers([hole]))
    assert _lower(out) == [i for x, y in spans for i in range(x, y) if i != a + 150]
    assert masked("acgt" * 3, repeated_kmers(["ACGT" * 3])) == "ACGT" * 3  # shorter than a k-mer


def test_blocks_give_what_the_whole_sequence_gives():
    text, _ = _with_copies(MIN_COPIES + 2, seed=7)
    repeats = repeated_kmers([text])
    whole = masked(text, repeats)
    for block in (1, 14, 15, 16, 777, len(text) + 1):
        assert "".join(masked_blocks(text, repeats, block=block)) == whole
