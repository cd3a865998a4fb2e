"""Command-line shell: parse options, set up logging and threads, call one pipeline function.

Nothing here computes; every command maps GenannotError to one line on stderr and its exit
code, so `main(argv)` can be run in-process by the tests.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import shlex
import signal
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Sequence

import click

from genannot import __version__
from genannot.errors import GenannotError, InputError, ModelError
from genannot.io.atomic import check_not_inputs

log = logging.getLogger("genannot")

MAX_THREADS = 1024  # --threads beyond this fail to start (OpenMP's threads, the worker processes)
MAX_ORF_LENGTH = 100_000_000  # --min-length / --min-edge-length (nt)
TRAPPED_SIGNALS = ("SIGTERM", "SIGHUP")  # end a run as Ctrl-C does: outputs not yet complete are removed


def _setup_logging(verbose: int, quiet: bool) -> None:
    from genannot.runtime.logs import log_to_stderr

    level = logging.ERROR if quiet else (logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    log_to_stderr(level, "genannot: %(levelname)s: %(message)s" if verbose else "genannot: %(message)s")


def _command_line() -> str:
    return "genannot " + " ".join(shlex.quote(a) for a in _ARGV)


_ARGV: list[str] = []


def common(f: Callable) -> Callable:
    """Options every command takes: verbosity, threads, seed."""

    @click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
    @click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr.")
    @click.option("--threads", type=click.IntRange(min=0, max=MAX_THREADS), default=0, show_default=True, help="CPU threads (0 = all cores).")
    @click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
    @functools.wraps(f)
    def wrapper(*args, verbose: int, quiet: bool, threads: int, seed: int, **kwargs):
        _setup_logging(verbose, quiet)
        from genannot.runtime.device import set_threads

        set_threads(threads)
        try:
            return f(*args, seed=seed, **kwargs)
        except Exception as e:
            error = _corrupt_model(e, kwargs.get("model"))
            if error is None:
                raise
            raise error from None

    return wrapper


def _corrupt_model(e: Exception, model: str | None) -> ModelError | None:
    """What the loaders raise for a cut or emptied model file (EOFError, zipfile.BadZipFile from
    genemodel.npz, SafetensorError) as a ModelError; None for any other exception.

    Caught inside the command: click would turn an EOFError into an "interrupted" abort."""
    from safetensors import SafetensorError

    if not isinstance(e, (EOFError, zipfile.BadZipFile, SafetensorError)):
        return None
    return ModelError(f"cannot load {f'model {model}' if model else 'the model'}: a file is corrupt or truncated ({e})")


def compute(f: Callable) -> Callable:
    """Options of commands that run a model: model choice, device, batch size."""
    f = click.option("--batch-size", default="auto", show_default=True, callback=_batch_size, help="Items per batch, or 'auto' from free memory.")(f)
    f = click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")(f)
    return f


def _batch_size(ctx, param, value: str):
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        raise click.BadParameter("must be 'auto' or a positive integer") from None
    if n < 1:
        raise click.BadParameter("must be 'auto' or a positive integer")
    return n


class _Weight(click.FloatRange):
    """A decoder weight: >= 0 and at most 1e6. nan passes FloatRange's comparisons, and nan, inf or a
    weight near the float limit turns every decoder score into nan or inf: 0 genes, exit 0."""

    def __init__(self) -> None:
        super().__init__(min=0, max=1e6)

    def convert(self, value, param, ctx):
        rv = super().convert(value, param, ctx)
        if math.isnan(rv):
            self.fail(f"{value!r} is not a number", param, ctx)
        return rv


output_option = click.option("-o", "--output", default="-", show_default=True, help="Output file ('-' = stdout).")
input_argument = click.argument("input", metavar="INPUT")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="genannot")
def cli() -> None:
    """genannot: genome annotation with DNA language models.

    INPUT is a FASTA file (plain, gzip or bgzip), a GenBank or EMBL flat file, or '-' for standard input.
    """


# ---------------------------------------------------------------- annotation


def _genetic_code(ctx: click.Context, param: click.Parameter, value: str) -> int | str:
    """`-g`: an NCBI genetic code number or 'auto'."""
    if value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is neither an NCBI genetic code number nor 'auto'") from None


def _model_files(*models: str | None) -> list[str]:
    """The files of the model directories given as paths (registry names are left to the loader):
    inputs that an output must not overwrite. A model directory is flat (config.json, weights, vocabulary), so
    only its own entries are listed: a wrong --model such as a home directory is not walked."""
    return [str(f) for m in models if m and os.path.isdir(m) for f in Path(m).iterdir() if f.is_file()]


@cli.command()
@input_argument
@output_option
@click.option("--format", "fmt", type=click.Choice(["gff3", "gtf", "csv"]), default="gff3", show_default=True,
              help="gff3; gtf (Ensembl's, for read counters); csv (one row per gene).")
@click.option("--model", default=None, help="Coding (CDS) classifier: registry name or directory.")
@click.option("--tis-model", default=None, help="Start-site (TIS) classifier: registry name or directory.")
@click.option("-g", "--translation-table", default="auto", show_default=True, callback=_genetic_code,
              help="NCBI genetic code, or 'auto': 4 where it lets genes cover clearly more of the input than 11 (UGA = Trp: Mycoplasma).")
@click.option("--closed", is_flag=True, help="No genes running off contig ends.")
@click.option("--min-length", type=click.IntRange(min=30, max=MAX_ORF_LENGTH), default=90, show_default=True, help="Minimum ORF length (nt).")
@click.option("--min-edge-length", type=click.IntRange(min=30, max=MAX_ORF_LENGTH), default=60, show_default=True,
              help="Minimum partial ORF length at contig edges.")
@click.option("--ctg", is_flag=True, help="Also allow CTG start codons.")
@click.option("--no-gc-bins", is_flag=True, help="Learn one set of statistics from all records, even where their GC "
              "forms separate clusters (by default each cluster of a mixed-species input learns its own).")
@click.option("--proteins", default=None, help="Write protein FASTA here.")
@click.option("--genes", "genes_out", default=None, help="Write gene (CDS nucleotide) FASTA here.")
@click.option("--candidates", default=None, help="Write every scored candidate start (CSV) here.")
@compute
@common
def prok(**kw) -> None:
    """Annotate a bacterial or archaeal genome: ORFs -> coding -> start site."""
    from genannot.prok.pipeline import run_prok

    outputs = {"-o": kw["output"], "--proteins": kw["proteins"], "--genes": kw["genes_out"], "--candidates": kw["candidates"]}
    check_not_inputs(outputs, [kw["input"], *_model_files(kw["model"], kw["tis_model"])])
    run_prok(command_line=_command_line(), **kw)


@cli.command()
@input_argument
@output_option
@click.option("--format", "fmt", type=click.Choice(["gff3", "gtf", "csv"]), default="gff3", show_default=True,
              help="gff3; gtf (Ensembl's, for read counters and aligners); csv (one row per transcript).")
@click.option("--model", default=None, help="Segmentation model: registry name or directory.")
@click.option("--no-rc", is_flag=True, help="Skip reverse-complement test-time averaging.")
@click.option("--no-splice-filter", is_flag=True, help="Keep exons with non-canonical splice dinucleotides.")
@click.option("--proteins", default=None, help="Write protein FASTA here.")
@click.option("--genes", "genes_out", default=None, help="Write the spliced CDS of every coding transcript (nucleotide FASTA) here.")
@click.option("--net-weight", type=_Weight(), default=None, help="Weight of the network's evidence in the decoder (default: the model's own; 0 = signal models alone).")
@click.option("--bedgraph", default=None, metavar="PREFIX", help="Write per-base probabilities as bgzipped bedGraph, PREFIX.<class>_<strand>.bedgraph.gz.")
@click.option("--no-self-train", is_flag=True, help="Keep the model's signal models as they are (default: re-fit them on the input when it holds enough long ORFs).")
@click.option("--softmask-penalty", type=_Weight(), default=0.15, show_default=True, help="Nats per soft-masked (lowercase, repeat) base in an exon; 0 = ignore soft-masking.")
@click.option("--mask-repeats", type=click.Choice(["auto", "always", "never"]), default="auto", show_default=True, help="Soft-mask repeats found in the input itself (15-mers seen 4 times or more); auto: where the input carries no soft-mask of its own.")
@compute
@common
def euk(**kw) -> None:
    """Annotate a eukaryotic genome into gene / mRNA / lnc_RNA / exon / CDS / UTR models."""
    from genannot.euk.pipeline import run_euk
    from genannot.io.bedgraph import track_paths

    prefix = kw["bedgraph"]
    if prefix is not None and os.path.basename(prefix) in ("", ".", "..", "-"):
        raise InputError(f"--bedgraph {prefix!r}: give a file name prefix, e.g. out/sample for out/sample.<track>.bedgraph.gz")
    tracks = {f"--bedgraph ({name})": path for name, path in (track_paths(prefix) if prefix else {}).items()}
    check_not_inputs({"-o": kw["output"], "--proteins": kw["proteins"], "--genes": kw["genes_out"], **tracks},
                     [kw["input"], *_model_files(kw["model"])])
    run_euk(command_line=_command_line(), **kw)


# ---------------------------------------------------------------- training


@cli.group()
def train() -> None:
    """Train models on your own annotated genomes."""


train_inputs = [
    click.option("--genome", "genomes", multiple=True, required=True, help="Genome FASTA (repeat; pairs with --annotation in order)."),
    click.option("--annotation", "annotations", multiple=True, required=True, help="Annotation GFF3/GTF/GenBank (repeat)."),
    click.option("-o", "--output", "output_dir", required=True, help="Output model directory."),
    click.option("--epochs", type=click.IntRange(min=1), default=None, help="Training epochs (default: the trainer's)."),
    click.option("--resume", is_flag=True, help="Continue from the checkpoint in the output directory."),
]


def _train_options(f: Callable) -> Callable:
    for opt in reversed(train_inputs):
        f = opt(f)
    return f


def _paired(genomes: Sequence[str], annotations: Sequence[str]) -> None:
    if len(genomes) != len(annotations):
        raise InputError(f"--genome given {len(genomes)} times but --annotation {len(annotations)} times: give them in pairs")


def _check_output_dir(kw: dict) -> None:
    """`train -o`: fail before data preparation, not after it, where the model directory cannot be
    made (empty, an input or another file in the way, a read-only or pseudo file system such as /sys).
    Writability is probed with a directory made and removed at once (os.access says yes to root)."""
    path = kw["output_dir"]
    if not path:
        raise InputError("-o: the output directory is empty")
    check_not_inputs({"-o": path}, [*kw["genomes"], *kw["annotations"]])
    p = Path(path).expanduser()
    if p.exists() and not p.is_dir():
        raise InputError(f"-o '{path}' is a file, not a directory")
    base = p
    while not base.exists():
        base = base.parent
    if not base.is_dir():
        raise InputError(f"cannot create output directory '{path}': '{base}' is not a directory")
    try:
        os.rmdir(tempfile.mkdtemp(dir=base, prefix=".genannot-"))
    except OSError as e:
        raise InputError(f"cannot create output directory '{path}': {e.strerror or e}") from None


@train.command("prok")
@_train_options
@click.option("-g", "--translation-table", type=int, default=11, show_default=True)
@compute
@common
def train_prok(**kw) -> None:
    """Train the coding and start-site classifiers."""
    from genannot.prok.train import run_train_prok

    _paired(kw["genomes"], kw["annotations"])
    _check_output_dir(kw)
    run_train_prok(**kw)


def _settings(pairs: Sequence[str]) -> dict:
    """KEY=VALUE pairs; VALUE read as JSON where it parses (numbers, lists, true/false), else a string."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InputError(f"--set {pair!r}: expected KEY=VALUE")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


@train.command("euk")
@_train_options
@click.option("--holdout", default=None, help="Region kept out for validation, SEQID:START-END.")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="Training setting (repeat), e.g. hidden_size=128 or window_schedule=[2048,4096].")
@compute
@common
def train_euk(settings, **kw) -> None:
    """Train the nucleotide segmentation model."""
    from genannot.euk.train import check_settings, run_train_euk

    _paired(kw["genomes"], kw["annotations"])
    extra = _settings(settings)
    clash = sorted(set(extra) & (set(kw) | {"seed"}))
    if clash:
        raise InputError(f"--set {clash[0]}: use the command's own option for it")
    check_settings(extra)
    _check_output_dir(kw)
    run_train_euk(**kw, **extra)


# ---------------------------------------------------------------- evaluation


@cli.group("eval")
def eval_() -> None:
    """Score predictions against a reference annotation."""


@eval_.command("prok")
@click.argument("pred")
@click.argument("ref")
@click.option("--verified", default=None, help="GFF3/GTF of genes with experimentally verified starts.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@output_option
@common
def eval_prok(seed: int, **kw) -> None:
    """Compare predicted CDS with reference CDS (3' ends, starts, verified starts)."""
    from genannot.eval.report import run_eval_prok

    check_not_inputs({"-o": kw["output"]}, [kw["pred"], kw["ref"], kw["verified"]])
    run_eval_prok(**kw)


@eval_.command("euk")
@click.argument("pred")
@click.argument("ref")
@click.option("--biotype", "biotypes", multiple=True, help="Restrict to these transcript biotypes (mRNA, lnc_RNA).")
@click.option("--region", default=None, help="Only score SEQID:START-END.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@output_option
@common
def eval_euk(seed: int, **kw) -> None:
    """Compare predicted gene models with reference ones (exon, CDS, intron, transcript, gene, base)."""
    from genannot.eval.report import run_eval_euk

    check_not_inputs({"-o": kw["output"]}, [kw["pred"], kw["ref"]])
    run_eval_euk(**kw)


# ---------------------------------------------------------------- models


@cli.group()
def models() -> None:
    """List, inspect, download and verify models (models.toml)."""


@models.command("list")
@common
def models_list(seed: int) -> None:
    """One line per registered model."""
    from genannot.models.registry import list_models

    for spec in list_models():
        flag = "*" if spec.default else " "
        click.echo(f"{flag} {spec.name:32} {spec.kind:11} {spec.source}")


@models.command("info")
@click.argument("name")
@common
def models_info(seed: int, name: str) -> None:
    """Everything models.toml says about one model."""
    from genannot.models.registry import get_spec

    click.echo(json.dumps(get_spec(name).to_dict(), indent=2))


@models.command("pull")
@click.argument("name")
@click.option("--cache-dir", default=None, help="Where to store downloads (default: the Hugging Face cache).")
@common
def models_pull(seed: int, name: str, cache_dir: str | None) -> None:
    """Download a hub model at its pinned revision (the only command that uses the network)."""
    from genannot.models.registry import pull_model

    click.echo(str(pull_model(name, cache_dir=cache_dir)))


@models.command("verify")
@click.argument("names", nargs=-1)
@common
def models_verify(seed: int, names: tuple[str, ...]) -> None:
    """Check the sha256 of every file of the named (default: all available) models."""
    from genannot.models.registry import verify_models

    bad = 0
    for name, status in verify_models(list(names) or None):
        click.echo(f"{name}\t{status}")
        bad += not (status in ("ok", "not downloaded") or status.startswith("unverified"))
    if bad:
        raise GenannotError(f"{bad} model(s) failed verification")


# ---------------------------------------------------------------- entry points


class _Terminated(BaseException):
    """A trapped signal (TRAPPED_SIGNALS), raised where the run is, so that open outputs are cleaned up."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame) -> None:
    raise _Terminated(signum)


def _trap_signals() -> dict:
    """Install the TRAPPED_SIGNALS handler; {signal: previous handler} (none off the main thread)."""
    previous = {}
    for name in TRAPPED_SIGNALS:
        sig = getattr(signal, name, None)
        if sig is None:
            continue
        try:
            previous[sig] = signal.signal(sig, _raise_terminated)
        except ValueError:  # not the main thread: leave signals alone
            break
    return previous


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI in-process and return the exit status (never raises for user errors)."""
    global _ARGV
    args = list(sys.argv[1:] if argv is None else argv)
    _ARGV = args
    previous = _trap_signals()
    try:
        return _run(args)
    except _Terminated as e:
        click.echo(f"genannot: terminated ({signal.Signals(e.signum).name})", err=True)
        return 128 + e.signum
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(args: list[str]) -> int:
    try:
        cli.main(args=args, prog_name="genannot", standalone_mode=False)
    except GenannotError as e:
        click.echo(f"genannot: error: {e}", err=True)
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.NoArgsIsHelpError as e:  # `genannot` alone: the usage is the answer
        e.show()
        return e.exit_code
    except click.UsageError as e:  # one line, as every other input error
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"genannot: error: {e.format_message()}{hint}", err=True)
        return e.exit_code
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("genannot: interrupted", err=True)
        return 130
    except KeyboardInterrupt:
        click.echo("genannot: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return 141
    return 0


def entry() -> None:
    sys.exit(main())
