"""The `clt-kit` command line: each command is a thin layer over a library function."""

from __future__ import annotations

import dataclasses
import errno
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clt_kit import __version__
from clt_kit.jsonio import InputError
from clt_kit.languages import GROUPS
from clt_kit.study import TASKS, study
from clt_kit.scales import SCALES, Scale, get_scale

if TYPE_CHECKING:
    from clt_kit.cluster.slurm import SlurmOptions, SlurmSweep
    from clt_kit.evaluate.judge import Judge
    from clt_kit.results.figures import FigureFiles
    from clt_kit.results.tables import TableFiles
    from clt_kit.sources import DataSpec

DEFAULT_SCALE, DEFAULT_SEED = "mini", 0
SCALE = click.option("--scale", type=click.Choice(sorted(SCALES)), default=DEFAULT_SCALE, show_default=True, help="Size of everything: smoke (seconds, tests), mini (the embedded default) or paper (the paper's recipe for real models and data: reproduce with --data and --base, or train, eval, ingest).")
SEED = click.option("--seed", type=click.IntRange(min=0), default=DEFAULT_SEED, show_default=True, help="The one seed every random stream derives from.")
# The scale and seed of the runs a command reads from a results folder: those its runs are of, unless given.
RUNS_SCALE = click.option("--scale", type=click.Choice(sorted(SCALES)), default=None, help=f"The scale of the runs to read (default: the one the results hold; {DEFAULT_SCALE} where they hold none).")
RUNS_SEED = click.option("--seed", type=click.IntRange(min=0), default=None, help=f"The seed of the runs to read (default: the one the results hold; {DEFAULT_SEED} where they hold none).")


def _results_folder(ctx: click.Context, param: click.Parameter, value: Path) -> Path:
    """--results: a folder, or a place one can be made (no file there, nor above it)."""
    for part in [value, *value.parents]:
        if part.exists():
            if not part.is_dir():
                raise InputError(f"--results {value}: {part} is a file, not a folder; pass --results a folder (or a new name)")
            break
    return value


RESULTS = click.option("--results", type=click.Path(path_type=Path), default=Path("results"), show_default=True, envvar="CLT_KIT_RESULTS",
                       show_envvar=True, callback=_results_folder, help="Folder for the DuckDB file, figures and cached work.")
THREADS = click.option("--threads", type=click.IntRange(min=1), default=None,
                       help="CPU threads of torch (recorded). Paper scale: default every core; the smoke and mini scales run on their fixed count.")


def judge_options(command: Callable[..., None]) -> Callable[..., None]:
    """The LLM judge's options (eval and reproduce): the judge rates IF answers when a URL is given."""
    for option in reversed([
        click.option("--judge-url", default=None, help="IF: rate with an LLM judge at this OpenAI-compatible endpoint (e.g. http://localhost:8000/v1; key from $OPENAI_API_KEY) instead of the checkers; needed for IF items without verifiable instructions (Aya Dolly)."),
        click.option("--judge-model", default="gpt-4o", show_default=True, help="The judge's model name (the paper used GPT-4o)."),
        click.option("--judge-cache", type=click.Path(path_type=Path), default=None, help="Where judgments are cached (default: RESULTS/judge-cache; for eval, results/judge-cache)."),
        click.option("--judge-in-flight", type=click.IntRange(min=1), default=16, show_default=True, help="Judge requests sent at once."),
        click.option("--judge-allow-http", is_flag=True, help="Send the API key over plain http to a judge (or an http_proxy) on another machine (refused otherwise; https or a local server need no flag)."),
    ]):
        command = option(command)
    return command


def slurm_options(command: Callable[..., None]) -> Callable[..., None]:
    """reproduce's executor options: where the runs are executed, and what a Slurm job asks for."""
    for option in reversed([
        click.option("--executor", type=click.Choice(["local", "slurm"]), default="local", show_default=True, help="Where runs are executed: here, in --jobs processes, or as Slurm jobs (one per run; submitted, then this command returns unless --wait)."),
        click.option("--slurm-config", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None, help="Slurm: a YAML file of the options below (partition, account, time, gpus_per_run, cpus_per_run, mem, accelerate_config, sbatch_lines); the command line overrides it."),
        click.option("--partition", default=None, help="Slurm: the partition of every job."),
        click.option("--account", default=None, help="Slurm: the account the jobs are charged to."),
        click.option("--time", "time_limit", default=None, help="Slurm: each job's time limit (sbatch --time, e.g. 24:00:00)."),
        click.option("--gpus-per-run", type=click.IntRange(min=0), default=None, help="GPUs of each run, on one machine, under accelerate launch (more than 1: FSDP). Slurm: of each run's job (0: a CPU job). Local executor: of this machine, one run at a time."),
        click.option("--cpus-per-run", type=click.IntRange(min=1), default=None, help="Slurm: CPUs of each job (default: the scale's threads for a CPU job)."),
        click.option("--mem", default=None, help="Slurm: memory of each job (sbatch --mem, e.g. 200G)."),
        click.option("--accelerate-config", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None, help="The accelerate config of runs with GPUs (configs/accelerate/); its process count is --gpus-per-run."),
        click.option("--sbatch-line", "sbatch_lines", multiple=True, help="Slurm: one more sbatch option for every job, e.g. --sbatch-line=--qos=high (repeat for more)."),
        click.option("--wait", "wait_jobs", is_flag=True, help="Slurm: wait for the jobs (loading each finished run), then draw."),
        click.option("--poll", type=click.FloatRange(min=0.1), default=30.0, show_default=True, help="Slurm, with --wait: seconds between looks at the queue."),
    ]):
        command = option(command)
    return command


def make_judge(judge_url: str | None, judge_model: str, judge_cache: Path, judge_in_flight: int, judge_allow_http: bool) -> Judge | None:
    """The judge the judge options describe; None without a URL."""
    from clt_kit.evaluate.judge import Judge

    if judge_url is None:
        return None
    return Judge(judge_url, judge_model, judge_cache, allow_http=judge_allow_http, in_flight=judge_in_flight)


# OS errors that are the machine's state or the user's paths, not the kit's bug, told apart by
# errno: what happened (the path follows) and the fix.
_OS_ERRORS: dict[int, tuple[str, str]] = {
    errno.ENOSPC: ("no space left on the device writing", "free space, or pass --results a folder on another disk"),
    errno.EDQUOT: ("disk quota exceeded writing", "free space, or pass --results a folder on another disk"),
    errno.EROFS: ("a read-only file system writing", "remount it read-write, or pass --results a writable folder"),
    errno.EACCES: ("permission denied on", "give yourself access (chmod, chown), or pass --results a folder of yours"),
    errno.EPERM: ("operation not permitted on", "an immutable or append-only file or folder? `lsattr` shows it and `chattr -i`"
                  " clears it; or pass --results another folder"),
    errno.ENOTDIR: ("not a folder:", "a file stands where a folder is needed: move it, or pass --results (or --out) a folder"),
    errno.EEXIST: ("a file is in the way of a folder:", "move the file, or pass --results (or --out) a folder"),
    errno.EISDIR: ("a folder where a file is expected:", "move the folder, or name a file"),
    errno.ENOENT: ("no such file or folder:", "check the path (was it removed while the kit ran?)"),
    errno.ENAMETOOLONG: ("a file name too long:", "pass a shorter --results (or --out) path"),
    errno.ELOOP: ("a loop of symbolic links at", "fix the links"),
    errno.EIO: ("an input/output error of the device at", "check the disk (dmesg), or pass --results a folder on another disk"),
    errno.EMFILE: ("too many open files, opening", "raise the limit (ulimit -n)"),
    errno.ENFILE: ("too many open files in the system, opening", "close other programs, or raise fs.file-max"),
    errno.ESTALE: ("a stale network file handle at", "remount the file system"),
}
_DUCKDB_PATH = re.compile(r'"([^"]+)"')


def _in_the_way(path: str) -> str:
    """The file that stands where a folder of `path` is needed (the first existing non-folder
    above it), or `path` itself."""
    for part in [Path(path), *Path(path).parents]:
        if part.exists() or part.is_symlink():
            return str(part) if not part.is_dir() else path
    return path


def _os_line(code: int, path: str | None, strerror: str) -> str:
    what, fix = _OS_ERRORS[code]
    where = _in_the_way(path) if path and code in (errno.ENOTDIR, errno.EEXIST) else path or "a file"
    return f"{what} {where} ({strerror}); {fix}"


def _duckdb_line(e: BaseException) -> str | None:
    """DuckDB's errors carry an OS error only as the system's words for it (strerror) in their
    message, after the file's name in quotes (an IOException; a TransactionException when a
    commit cannot write); any other IOException is the file itself (not a database)."""
    import duckdb

    if not isinstance(e, duckdb.Error):
        return None
    message = str(e).strip().splitlines()[0][:300] if str(e).strip() else type(e).__name__
    path = (found.group(1) if (found := _DUCKDB_PATH.search(message)) else None)
    for code in _OS_ERRORS:
        if os.strerror(code) in message:
            return _os_line(code, path, os.strerror(code))
    if not isinstance(e, duckdb.IOException):
        return None
    return (f"the DuckDB file {path or ''} cannot be used (DuckDB: {message}); move it aside for a new one (finished runs"
            " are kept in RESULTS/work/runs/ and `clt-kit ingest` loads them), or pass --results another folder")


def os_error_line(e: BaseException) -> str | None:
    """One line for an exception caused (anywhere in its chain) by the machine's state or the
    user's paths, by class: an OSError of an errno of _OS_ERRORS (a full disk, a read-only or
    immutable folder, a file where a folder is needed, ...), DuckDB's IOException (the same, as
    DuckDB reports them, or a file that is no database), a file that is not UTF-8. It names the
    path and the fix; None for any other exception."""
    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _OS_ERRORS:
            return _os_line(seen.errno, seen.filename and str(seen.filename), seen.strerror or os.strerror(seen.errno))
        if (line := _duckdb_line(seen)) is not None:
            return line
        if isinstance(seen, UnicodeDecodeError):
            return f"a file is not UTF-8 (byte {seen.object[seen.start:seen.start + 1]!r} at {seen.start}: {seen.reason}); re-encode it as UTF-8"
        seen = seen.__cause__ or seen.__context__
    return None


def _clear_progress_bars() -> None:
    """Closes any progress bar still drawn, so that an error line starts on a line of its own."""
    from tqdm import tqdm

    for bar in list(getattr(tqdm, "_instances", ())):
        bar.leave = False
        bar.close()


class KitGroup(click.Group):
    """Turns the kit's input errors, and a full disk or a read-only folder, into one clear line
    and exit code 2 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        logging.basicConfig(format="warning: %(message)s", level=logging.WARNING)
        try:
            return super().invoke(ctx)
        except InputError as e:
            _clear_progress_bars()
            click.echo(f"error: {e}", err=True)
            sys.exit(2)
        except Exception as e:
            if (line := os_error_line(e)) is None:
                raise
            _clear_progress_bars()
            click.echo(f"error: {line}", err=True)
            sys.exit(2)


@click.group(cls=KitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="clt-kit")
def main() -> None:
    """Reproduce "A Post-trainer's Guide to Multilingual Training Data" (arXiv 2504.16677).

    Start with `clt-kit reproduce --figure 2`; query results with `clt-kit sql`.
    """


@main.command()
@SEED
@SCALE
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write the world into (replaced atomically).")
def world(seed: int, scale: str, out: Path) -> None:
    """Generate the embedded multilingual world (corpus, task pools, test sets)."""
    from clt_kit.world import generate_world

    paths = generate_world(out, seed, get_scale(scale).generated()[0], scale)
    click.echo(f"world written to {paths.root} (manifest {paths.manifest})")


@main.command()
@click.argument("config", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to write the data into (replaced atomically), in the world's layout.")
def data(config: Path, out: Path) -> None:
    """Read real datasets (XL-Sum, mCoT-MATH, MGSM, Aya Dolly, ShareGPT-style or any, by a field
    mapping) as a data config (YAML or TOML) says, into <task>/train.jsonl and test.jsonl with
    data.json (sources, field mappings, language codes, seed, counts, sha256 of every file).
    Hub ids are downloaded by `datasets`; local copies are read as they are."""
    from clt_kit.sources import DATA_RECORD, read_data_spec

    _build_data(read_data_spec(config), out)
    click.echo(f"data written to {out} (record {out / DATA_RECORD})")


def _build_data(spec: DataSpec, out: Path) -> None:
    """Builds a data folder, naming every source (and what is downloaded) before reading any, and
    its counts after."""
    from clt_kit.jsonio import read_json
    from clt_kit.sources import DATA_RECORD, build_data
    from clt_kit.sources.read import is_local

    for source in spec.sources:
        where = source.where or source.adapter().hub
        click.echo(f"{source.dataset} ({source.role}): {where}{'' if where is None or is_local(where) else ' (downloaded from the Hugging Face hub)'}")
    build_data(spec, out, progress=True)
    for record in read_json(out / DATA_RECORD)["sources"]:
        kept = ", ".join(f"{lang} {c['kept']}" for lang, c in record["counts"].items())
        click.echo(f"{record['task']} {record['role']} from {record['dataset']}: {kept}"
                   + (f"; skipped {record['skipped']}" if record["skipped"] else ""))


# The near-dup options' defaults, declared once in the Rust core (a small native module, no numpy).
from clt_kit._prep import NearDupOptions  # noqa: E402

NEAR = NearDupOptions()


@main.command()
@click.option("--task", type=click.Choice(TASKS), required=True)
@click.option("--pool", type=click.Path(path_type=Path), required=True, multiple=True, help="Training pool: JSONL, Parquet or a saved HF dataset folder (id, lang, prompt, response). Repeat for shards.")
@click.option("--test", type=click.Path(path_type=Path), default=None, help="Test set to decontaminate against.")
@click.option("--english", type=click.IntRange(min=0), required=True, help="English examples in the mixture.")
@click.option("--k", type=click.IntRange(min=0), required=True, help="Examples per seen language (es, fr, ja, zh).")
@SEED
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for mixture.jsonl, dropped.jsonl and manifest.json.")
@click.option("--lenient", is_flag=True, help="Skip bad records (counted in the manifest) instead of stopping.")
@click.option("--num-perm", type=click.IntRange(min=1), default=NEAR.num_perm, show_default=True, help="MinHash permutations.")
@click.option("--bands", type=click.IntRange(min=1), default=NEAR.bands, show_default=True, help="LSH bands.")
@click.option("--rows", type=click.IntRange(min=1), default=NEAR.rows, show_default=True, help="LSH rows per band (bands x rows <= num-perm).")
@click.option("--minhash-seed", type=click.IntRange(0, 2**64 - 1), default=NEAR.seed, show_default=True, help="Seed of the MinHash permutations.")
@click.option("--word-ngram", type=click.IntRange(min=1), default=NEAR.word_n, show_default=True, help="Shingle size in words (space-separated scripts).")
@click.option("--char-ngram", type=click.IntRange(min=1), default=NEAR.char_n, show_default=True, help="Shingle size in characters (Han, Kana, Hangul).")
@click.option("--threshold", type=click.FloatRange(0.0, 1.0), default=NEAR.threshold, show_default=True, help="Jaccard similarity from which two items are near duplicates.")
@click.option("--no-verify", is_flag=True, help="Merge LSH candidates without checking their exact Jaccard similarity.")
@click.option("--no-language-filter", is_flag=True, help="Keep items whose text the language identifier assigns to another language.")
@click.option("--threads", type=click.IntRange(min=0), default=0, show_default=True, help="Threads for the Rust core (0: all cores); never changes the output.")
def prep(task: str, pool: tuple[Path, ...], test: Path | None, english: int, k: int, seed: int, out: Path, lenient: bool,
         num_perm: int, bands: int, rows: int, minhash_seed: int, word_ngram: int, char_ngram: int, threshold: float,
         no_verify: bool, no_language_filter: bool, threads: int) -> None:
    """Dedup (exact + near), language-filter, decontaminate and sample a mixture (Rust core); write it with a manifest."""
    from clt_kit.prep import MixtureSpec, build_mixture
    from clt_kit.prep.clean import CleanParams
    from clt_kit.prep.core import NearDupParams

    near = NearDupParams(num_perm=num_perm, bands=bands, rows=rows, seed=minhash_seed, word_n=word_ngram, char_n=char_ngram,
                         threshold=threshold, verify=not no_verify)
    if problems := near.problems():
        raise click.UsageError("; ".join(problems))
    params = CleanParams(near=near, language_filter=not no_language_filter)
    manifest = build_mixture(MixtureSpec(task, english, k, seed), list(pool), test, out, lenient=lenient, params=params,
                             threads=threads, progress=True)
    for lang, c in manifest["counts"].items():
        dropped = ", ".join(f"{r} {n}" for r, n in c["dropped"].items() if n) or "none"
        click.echo(f"{lang}: in {c['in']}, kept {c['kept']}, selected {c['selected']}; dropped: {dropped}")
    click.echo(f"manifest: {out / 'manifest.json'}")


@main.command()
@SEED
@SCALE
@RESULTS
@click.option("--from-scratch", is_flag=True, help="Pretrain even where the package ships the model (and compare with it).")
def pretrain(seed: int, scale: str, results: Path, from_scratch: bool) -> None:
    """Pretrain (or reuse) the tiny base models of a scale on its world corpus."""
    from clt_kit.jsonio import read_json
    from clt_kit.layout import Layout
    from clt_kit.pipeline import default_jobs, ensure_bases
    from clt_kit.train.pretrain import BUNDLED
    from clt_kit.verify import compare_with_bundled
    from clt_kit.world.generate import ensure_world

    s, layout = get_scale(scale), Layout(results)
    world_paths = ensure_world(layout.world(s, seed), seed, s.generated()[0], s.name)
    bases = ensure_bases(list(s.models), world_paths, s, seed, layout, True, default_jobs(s), from_scratch)
    for size, path in bases.items():
        record = read_json(path / "base.json")
        click.echo(f"{size}: {path} (weights sha256 {record['weights_sha256']})")
        if (BUNDLED / path.name / "base.json").exists():
            click.echo(f"  the package's copy: {compare_with_bundled(record, read_json(BUNDLED / path.name / 'base.json'))}")


@main.command()
@click.option("--base", required=True, help="Base model: a folder (from `clt-kit pretrain`, or any saved HF causal LM) or a hub id (downloaded: paper scale only).")
@click.option("--mixture", type=click.Path(path_type=Path, exists=True), required=True, help="Mixture folder (from `clt-kit prep`).")
@SEED
@SCALE
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the fine-tuned model.")
@click.option("--packing", is_flag=True, help="Pack each batch's examples into full rows (no attention across examples); the paper did not pack.")
@click.option("--lora-rank", type=click.IntRange(min=0), default=0, show_default=True, help="Train LoRA adapters of this rank on every linear layer, merged after training (0: full fine-tuning, as the paper did).")
@click.option("--batch", type=click.IntRange(min=1), default=None, help="Global batch: examples per optimizer step (instead of the scale's; the paper's is 64).")
@click.option("--micro-batch", type=click.IntRange(min=1), default=None, help="Examples per forward pass and process; the rest of the scale's global batch by gradient accumulation.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Optimizer steps (instead of the scale's steps or epochs).")
@click.option("--epochs", type=click.FloatRange(min=0, min_open=True), default=None, help="Passes over the training examples (instead of the scale's steps or epochs).")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=None, help="Constant learning rate (instead of the scale's).")
@click.option("--seq-len", type=click.IntRange(min=2), default=None, help="Cut examples to this many tokens (instead of the scale's; counted when it cuts).")
@click.option("--log-with", default="tensorboard", show_default=True, help="An accelerate tracker for the training and validation losses (tensorboard: event files under OUT/logs; wandb, mlflow, ... where installed; none: no tracker).")
@click.option("--model-name", default=None, help="The model's name in the results (7b, 35b or 8b puts the run in the paper's figures of that model; default: the base's folder or hub name).")
@THREADS
def train(base: str, mixture: Path, seed: int, scale: str, out: Path, packing: bool, lora_rank: int, batch: int | None, micro_batch: int | None,
          steps: int | None, epochs: float | None, lr: float | None, seq_len: int | None, log_with: str, model_name: str | None,
          threads: int | None) -> None:
    """Fine-tune a base model on a mixture (best checkpoint by validation loss).

    Several processes or GPUs: `accelerate launch [--config_file configs/accelerate/...] -m clt_kit.cli train ...`.
    """
    from clt_kit.integrity import CorruptArtifact
    from clt_kit.jsonio import read_jsonl
    from clt_kit.prep.mixture import mixture_problems
    from clt_kit.train.pretrain import base_files_problems
    from clt_kit.pieces import run_about
    from clt_kit.train.sft import LoraSpec, save_result, sft

    s = get_scale(scale)
    recipe = dataclasses.replace(s.sft, cpu_threads=s.threads(s.sft.cpu_threads, threads))
    if problems := (base_files_problems(Path(base)) if Path(base).is_dir() else []) + mixture_problems(mixture):
        raise CorruptArtifact(problems)
    lora = LoraSpec(rank=lora_rank, alpha=2 * lora_rank) if lora_rank else None
    if steps is not None or epochs is not None:
        recipe = dataclasses.replace(recipe, steps=steps, epochs=epochs)
    recipe = dataclasses.replace(recipe, batch=batch or recipe.batch, micro_batch=micro_batch or recipe.micro_batch, lr=lr or recipe.lr,
                                 seq_len=seq_len or recipe.seq_len)
    about = run_about(scale, seed, model_name or base.rstrip("/").split("/")[-1], base, mixture)
    started = time.perf_counter()
    tracker = None if log_with == "none" else log_with
    result = sft(base, read_jsonl(mixture / "mixture.jsonl"), recipe, seed, progress=True, packing=packing, lora=lora,
                 log_with=tracker, logging_dir=out / "logs", announce=lambda used: click.echo(_recipe_line(used)))
    if result.is_main_process:  # under `accelerate launch`, one process writes
        save_result(result, out, about, time.perf_counter() - started)
        click.echo(f"best step {result.best_step} (validation losses {result.validation_losses}); saved to {out}")
        if tracker == "tensorboard":
            click.echo(f"training curves: TensorBoard event files in {out / 'logs'} (docs/paper-scale.md, Training curves)")


def _recipe_line(recipe: dict[str, Any]) -> str:
    """One line of what a fine-tuning recipe came to on its data (SFTResult.recipe), printed before the first step."""
    return (f"{recipe['steps']} steps of {recipe['global_batch']} examples (micro-batches of {recipe['micro_batch']}) over"
            f" {recipe['examples']} training examples, seq_len {recipe['seq_len']} ({recipe['truncated']} examples cut),"
            f" LR {recipe['lr']}, {recipe['precision']} precision, {recipe['threads']} thread(s)")


@main.command(name="eval")
@click.option("--model", "model_dir", required=True, help="Model: a folder (from `clt-kit train`, or any saved HF causal LM) or a hub id.")
@click.option("--test", type=click.Path(path_type=Path, exists=True), required=True, help="Test set (JSONL).")
@click.option("--task", type=click.Choice(TASKS), required=True)
@click.option("--scale", type=click.Choice(sorted(SCALES)), default=None,
              help="The scale whose evaluation settings are used (prompt window, answer length, batch, precision). Default: for a"
                   " `train` folder the scale its sft.json records; for any other model paper (prompts never cut, answers up to"
                   " 512 tokens, stop strings).")
@THREADS
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Write one JSON row per example here.")
@click.option("--backend", type=click.Choice(["transformers", "vllm"]), default="transformers", show_default=True,
              help="What runs the forward passes of greedy generation: the kit's loop over transformers, or vLLM in its own"
                   " environment (`make vllm-env`; docs/paper-scale.md, Generation with vLLM). Same prompts, same decoding.")
@click.option("--vllm-python", type=click.Path(path_type=Path), default=None,
              help="--backend vllm: the vLLM environment's interpreter (default: $CLT_KIT_VLLM_PYTHON, else .venv-vllm/bin/python).")
@click.option("--max-new-tokens", type=click.IntRange(min=1), default=None, help="Longest answer in tokens (instead of the scale's; the paper scale's is 512).")
@judge_options
def eval_(model_dir: str, test: Path, task: str, scale: str | None, threads: int | None, out: Path | None, backend: str,
          vllm_python: Path | None, max_new_tokens: int | None, judge_url: str | None, judge_model: str, judge_cache: Path | None, judge_in_flight: int,
          judge_allow_http: bool) -> None:
    """Generate greedily on a test set and score every example; print per-language means.

    The settings used (scale, prompt window, answer limit, stop strings, shots, backend, threads,
    precision) are printed first and, for a `train` folder, kept with its evaluation."""
    from clt_kit.evaluate.generate import backend_of, place, precision_of, stop_rule
    from clt_kit.evaluate.vllm_backend import VllmModel
    from clt_kit.evaluate.vllm_backend import vllm_python as find_vllm
    from clt_kit.pieces import SFT_RECORD, eval_scale, eval_settings, save_eval, test_shots
    from clt_kit.evaluate.tasks import evaluate_task, language_means, stops_by_lang
    from clt_kit.jsonio import read_jsonl, write_jsonl
    from clt_kit.train.pretrain import load_base, load_tokenizer

    judge = make_judge(judge_url, judge_model, judge_cache or Path("results/judge-cache"), judge_in_flight, judge_allow_http)
    s = get_scale(eval_scale(model_dir, scale))
    config = dataclasses.replace(s.eval, cpu_threads=s.threads(s.eval.cpu_threads, threads))
    config = dataclasses.replace(config, max_new_tokens=max_new_tokens or config.max_new_tokens)
    if backend == "vllm":
        model: Any = VllmModel(model_dir, find_vllm(vllm_python))
        tokenizer = load_tokenizer(model_dir)
        click.echo(f"generating with vLLM in {model.python} (it is slow to start: an eval of 24 prompts took a minute on a 2-core CPU)", err=True)
    else:
        model, tokenizer = load_base(model_dir)
    model = place(model, config.precision)
    generation = {"backend": backend_of(model), "precision": precision_of(model),
                  "stop": stop_rule(tokenizer, stops_by_lang(read_jsonl(test)))}
    settings = eval_settings(s.name, config, test_shots(test, task), generation)
    click.echo(_settings_line(settings), err=True)
    started = time.perf_counter()
    rows = evaluate_task(model, tokenizer, test, task, config, judge, progress=True)
    if out is not None:
        write_jsonl(out, rows)
    if (Path(model_dir) / SFT_RECORD).is_file():  # a model `train` made: its evaluation is kept beside it, for `ingest`
        kept = save_eval(Path(model_dir), task, rows, test, time.perf_counter() - started, judge.describe() if judge else None, settings)
        click.echo(f"kept in {kept} (`clt-kit ingest {model_dir}` loads the run into the results)")
    for lang, mean in language_means(rows).items():
        click.echo(f"{lang}\t{mean:.4f}")


def _settings_line(settings: dict[str, Any]) -> str:
    """One line of an evaluation's settings (pieces.eval_settings)."""
    window = "prompts never cut" if settings["prompt_window"] is None else f"prompts cut to their last {settings['prompt_window']} tokens"
    strings = sorted({s for found in settings["stop"]["strings"].values() for s in found})
    stops = ", ".join([*settings["stop"]["tokens"], *(repr(s) for s in strings)]) or "none"
    shots = "unknown" if settings["shots"] is None else settings["shots"]
    return (f"evaluating with the {settings['scale']} scale's settings: {window}, answers up to {settings['max_new_tokens']} tokens,"
            f" stop at {stops}; shots {shots}; {settings['backend']['backend']}, {settings['precision']},"
            f" {settings['threads']} thread(s), batch {settings['batch']}")


@main.command()
@click.option("--figure", "figures", type=click.Choice([str(n) for n in study().figures]), multiple=True,
              help="A paper figure, as study.toml declares it (repeat for more). " + " ".join(f"{n}: {f.about}." for n, f in study().figures.items()))
@click.option("--table", "tables", type=click.Choice([str(n) for n in study().tables]), multiple=True,
              help="A paper table, as study.toml declares it (repeat for more); written as CSV and Markdown"
                   " under RESULTS/tables/. " + " ".join(f"{n}: {t.about}." for n, t in study().tables.items()))
@click.option("--all", "everything", is_flag=True, help="Every figure and table study.toml declares.")
@SEED
@SCALE
@RESULTS
@click.option("--jobs", type=click.IntRange(min=0), default=0, show_default=True, help="Runs executed at once, in separate processes (0: one per CPU core; at the paper scale, one). Results do not depend on it.")
@click.option("--data-only", is_flag=True, help="Only build the world (or read --data) and the mixtures (with manifests), for `clt-kit verify data_manifests/`.")
@click.option("--dry-run", is_flag=True, help="Print the plan (every run, its examples and steps; at the paper scale an estimate of tokens and GPU-hours, and what would be downloaded) and do nothing.")
@click.option("--data", "data", type=click.Path(path_type=Path, exists=True), default=None, help="Paper scale: the real datasets, as a data config (YAML or TOML; read into RESULTS/work/data/) or a folder that `clt-kit data` wrote.")
@click.option("--base", "bases", multiple=True, metavar="MODEL=ID", help="Paper scale: the base model of one of the study's models (7b, 35b, 8b), a hub id or a saved model's folder, in place of the scale's (repeat for more).")
@click.option("--english", type=click.IntRange(min=1), default=None, help="Paper scale: English examples per mixture, in place of the scale's (for data smaller than the paper's).")
@click.option("--k", "k_grid", default=None, metavar="K,K,...", help="Another k grid for every setting, in place of study.toml's (a small trial: --k 0,100).")
@judge_options
@slurm_options
def reproduce(figures: tuple[str, ...], tables: tuple[str, ...], everything: bool, seed: int, scale: str, results: Path,
              jobs: int, data_only: bool, dry_run: bool, data: Path | None, bases: tuple[str, ...], english: int | None,
              k_grid: str | None, judge_url: str | None, judge_model: str, judge_cache: Path | None, judge_in_flight: int,
              judge_allow_http: bool, executor: str, slurm_config: Path | None, wait_jobs: bool, poll: float,
              **slurm_given: object) -> None:
    """Run everything the chosen figures and tables need (reusing finished runs) and draw them
    from the DuckDB results.

    At the paper scale the runs fine-tune real base models (--base, or the scale's) on real
    datasets (--data), one after another. Safe to interrupt (a rerun resumes) and to start twice
    on the same results folder."""
    if everything:
        figures, tables = tuple(map(str, study().figures)), tuple(map(str, study().tables))
    if not figures and not tables:
        raise click.UsageError("choose what to reproduce: --figure N, --table N (each may repeat) or --all")
    targets = [study().figure(int(n)) for n in figures] + [study().table(int(n)) for n in tables]
    s = _given_scale(get_scale(scale), bases, english, data)
    ks = _k_grid(k_grid)
    if dry_run:
        from clt_kit.estimate import describe, plan_runs

        click.echo("\n".join(describe(plan_runs(targets, s, ks), s)))
        return
    if s.world is None and data is None:
        raise click.UsageError(f"--scale {scale} runs real models on real datasets: give them with --data (a data config, or a"
                               " folder from `clt-kit data`); docs/paper-scale.md")
    from clt_kit.pipeline import default_jobs, reproduce_data
    from clt_kit.pipeline import reproduce as run

    folder = _data_folder(data, results) if data is not None else None
    if data_only:
        world, mixtures = reproduce_data(targets, s, seed, results, folder, ks)
        click.echo(f"{'world' if folder is None else 'data'}: {world.manifest}")
        click.echo(f"mixtures: {len(mixtures)} under {mixtures[0].parent} (each with manifest.json)")
        if folder is None:
            click.echo(f"check them against the committed manifests: clt-kit verify data_manifests/ --results {results}")
        return
    from clt_kit.pipeline import plan

    planned = {p.model for p in plan(targets, s, ks)}
    if downloads := sorted(b for name, b in s.bases.items() if name in planned and not Path(b).is_dir()):
        click.echo(f"base models downloaded by transformers from the Hugging Face hub where not cached: {', '.join(downloads)}")
    judge = make_judge(judge_url, judge_model, judge_cache or results / "judge-cache", judge_in_flight, judge_allow_http)
    options = _slurm_options(executor, slurm_config, jobs, wait_jobs, slurm_given)
    if options is not None:
        from clt_kit.cluster.slurm import reproduce_on_slurm

        sweep = reproduce_on_slurm(targets, s, seed, results, options, data=folder, judge=judge, ks=ks, wait=wait_jobs, poll_seconds=poll)
        if not _echo_sweep(sweep, results):
            sys.exit(1)
        _echo_outputs(sweep.outputs, everything, results, s, seed)
        return
    gpus = _local_gpus(slurm_given, jobs)
    if gpus is None:
        result = run(targets, s, seed, results, jobs=jobs or default_jobs(s), data=folder, judge=judge, ks=ks)
    else:
        from clt_kit.cluster.launch import RunsFailed, reproduce_launched

        try:
            result = reproduce_launched(targets, s, seed, results, gpus[0], gpus[1], data=folder, judge=judge, ks=ks)
        except RunsFailed as e:
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
    click.echo(f"runs: {result.runs_done} new, {result.runs_reused} reused; {result.seconds:.1f} s")
    _echo_outputs(result.outputs, everything, results, s, seed)


def _echo_outputs(outputs: list[FigureFiles | TableFiles], everything: bool, results: Path, s: Scale, seed: int) -> None:
    """Prints each figure's values and each table, and with --all writes the report."""
    from clt_kit.results.figures import FigureFiles

    if not outputs:
        return
    for output in outputs:
        if isinstance(output, FigureFiles):
            _echo_figure(output)
        else:
            click.echo(output.markdown.read_text(encoding="utf-8"))
            click.echo(f"table: {output.markdown} (values in {output.csv})")
    if everything:
        from clt_kit.results.report import write_report

        report = write_report(outputs, study(), results / "clt.duckdb", results / "report.md", s.name, seed)
        click.echo(f"report: {report} (every figure and table on one page)")
    click.echo(f"results: {results / 'clt.duckdb'}")


def _slurm_options(executor: str, config: Path | None, jobs: int, wait_jobs: bool, given: dict[str, object]) -> SlurmOptions | None:
    """The Slurm options of reproduce's command line over those of --slurm-config; None for the local executor."""
    from clt_kit.cluster.slurm import SlurmOptions

    named = {"partition": given["partition"], "account": given["account"], "time": given["time_limit"], "mem": given["mem"],
             "gpus_per_run": given["gpus_per_run"], "cpus_per_run": given["cpus_per_run"],
             "accelerate_config": given["accelerate_config"] and str(given["accelerate_config"]),
             "sbatch_lines": tuple(given["sbatch_lines"]) or None}  # type: ignore[arg-type]
    if executor == "local":
        slurm_only = ["--" + ("sbatch-line" if name == "sbatch_lines" else name.replace("_", "-")) for name, value in named.items()
                      if value is not None and name not in ("gpus_per_run", "accelerate_config")]
        if used := slurm_only + (["--slurm-config"] if config else []) + (["--wait"] if wait_jobs else []):
            raise click.UsageError(f"{', '.join(used)}: Slurm options; add --executor slurm")
        return None
    if jobs:
        raise click.UsageError("--jobs: for the local executor; under Slurm every run is a job of its own")
    chosen = {**(SlurmOptions.read(config) if config else {}), **{k: v for k, v in named.items() if v is not None}}
    return SlurmOptions(**chosen)  # type: ignore[arg-type]


def _local_gpus(given: dict[str, object], jobs: int) -> tuple[int, str | None] | None:
    """The local executor's GPUs (--gpus-per-run, and --accelerate-config): each run under
    accelerate launch over that many of this machine's GPUs; None: runs in this machine's processes."""
    gpus, config = given["gpus_per_run"], given["accelerate_config"]
    if not gpus:
        if config is not None:
            raise click.UsageError("--accelerate-config: the config of runs with GPUs; add --gpus-per-run N")
        return None
    if jobs > 1:
        raise click.UsageError("--jobs: with --gpus-per-run each run takes its GPUs, one run at a time")
    return int(gpus), config and str(config)  # type: ignore[call-overload]


def _echo_sweep(sweep: SlurmSweep, results: Path) -> bool:
    """Prints what was submitted and where the sweep stands; False when a run failed and nothing is left to wait for."""
    from clt_kit.cluster.slurm import FAILED, FINISHED, QUEUED, RUNNING

    click.echo(f"submitted {len(sweep.submitted.submitted)} run(s) as Slurm jobs"
               + (f" ({', '.join(sorted(sweep.submitted.submitted.values(), key=int))})" if sweep.submitted.submitted else ""))
    click.echo(f"runs: {sweep.count(FINISHED)} finished, {sweep.count(RUNNING)} running, {sweep.count(QUEUED)} queued,"
               f" {sweep.count(FAILED)} failed, of {len(sweep.runs)}")
    for failed in (s for s in sweep.runs if s.state == FAILED):
        click.echo(f"  failed: run {failed.run_id} (job {failed.job_id}; log {failed.log})", err=True)
    if sweep.count(RUNNING) or sweep.count(QUEUED):
        click.echo(f"follow them with `clt-kit status --results {results}`; the same command again (or with --wait) loads and draws")
    return not sweep.count(FAILED) or bool(sweep.count(RUNNING) or sweep.count(QUEUED))


def _given_scale(s: Scale, bases: tuple[str, ...], english: int | None, data: Path | None) -> Scale:
    """The scale with the base models and English count given on the command line (a scale
    without a world only: the others make their own data and base models)."""
    if s.world is not None:
        if given := [name for name, value in (("--data", data), ("--base", bases), ("--english", english)) if value]:
            raise click.UsageError(f"{', '.join(given)}: for the paper scale (real data and models); --scale {s.name} makes its own")
        return s
    chosen = dict(s.bases)
    for entry in bases:
        name, sep, base = entry.partition("=")
        if not sep or not base or name not in s.bases:
            raise click.UsageError(f"--base {entry}: give MODEL=ID with MODEL one of {', '.join(s.bases)} (e.g. --base 8b=meta-llama/Llama-3.1-8B)")
        chosen[name] = base
    return dataclasses.replace(s, bases=chosen, english_train=english or s.english_train)


def _k_grid(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        ks = tuple(sorted({int(k) for k in text.split(",")}))
    except ValueError:
        raise click.UsageError(f"--k {text}: give k values separated by commas, e.g. --k 0,100,1000") from None
    if not ks or ks[0] < 0:
        raise click.UsageError(f"--k {text}: k values are 0 or more")
    return ks


def _data_folder(data: Path, results: Path) -> Path:
    """The data folder of --data: the folder itself, or the one a config makes under RESULTS/work/data/
    (named by the config's sha256; made once)."""
    import hashlib

    from clt_kit.layout import Layout
    from clt_kit.sources import DATA_RECORD, read_data_spec

    if data.is_dir():
        return data
    spec = read_data_spec(data)
    out = Layout(results).work / "data" / f"{data.stem}-{hashlib.sha256(data.read_bytes()).hexdigest()[:12]}"
    if not (out / DATA_RECORD).is_file():
        _build_data(spec, out)
    return out


def _echo_figure(figure: FigureFiles) -> None:
    header, body = figure.table()
    click.echo("  ".join(f"{h:<14}" for h in header))
    for row in body:
        cells = ["-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row]
        click.echo("  ".join(f"{c:<14}" for c in cells))
    click.echo("(paper: the paper's own numbers at the same k, from its tables; ours come from a miniature world and tiny models)")
    click.echo(f"figure: {figure.png} (+ .pdf, .svg; values in {figure.csv})")


@main.command()
@click.argument("path", type=click.Path(path_type=Path))
@RESULTS
def verify(path: Path, results: Path) -> None:
    """Recheck manifests and run records (a file or a folder of them): hashes of inputs and outputs, and a rebuild.

    Committed manifests without their data (data_manifests/) are compared with the user's rebuild
    at the same place under RESULTS/work/ (make it with `reproduce --all --data-only`)."""
    from clt_kit.layout import Layout
    from clt_kit.verify import PROBLEM, UNCHECKED, verify_path

    report = verify_path(path, Layout(results).work)
    for line in report.unchecked:
        click.echo(f"{UNCHECKED}{line}")
    for p in report.problems:
        click.echo(f"{PROBLEM}{p}", err=True)
    if report.checked == 0:
        click.echo(f"error: no manifest.json, world.json, base.json or run.json found under {path}", err=True)
        sys.exit(2)
    if report.problems:
        click.echo(f"{len(report.problems)} problem(s) in {report.checked} manifest(s)", err=True)
        sys.exit(1)
    unchecked = f" ({len(report.unchecked)} field(s) unchecked, listed above)" if report.unchecked else ""
    click.echo(f"verified {report.checked} manifest(s): files, inputs, outputs and rebuild match{unchecked}")


@main.command()
@click.argument("trained", nargs=-1, type=click.Path(path_type=Path, exists=True, file_okay=False))
@RESULTS
def ingest(trained: tuple[Path, ...], results: Path) -> None:
    """Load finished runs kept in their folders (RESULTS/work/runs/) into the results database,
    first making run folders of any TRAINED folders given (`train --out` folders with their
    `eval` results: runs made piecewise).

    A sweep loads each run as it finishes; a run it could not load (the database held open by
    another program) waits in its folder for this command or the next `reproduce`."""
    from clt_kit.pieces import to_run_folder
    from clt_kit.layout import Layout
    from clt_kit.results.runs import ingest_finished

    for folder in trained:
        click.echo(f"{folder}: run {to_run_folder(folder, Layout(results).runs).name}")
    done = ingest_finished(Layout(results))
    click.echo(f"runs: {len(done.loaded)} loaded, {len(done.present)} already in {Layout(results).db}"
               + (f", {len(done.damaged)} damaged (listed above, not loaded)" if done.damaged else ""))
    if done.damaged:
        sys.exit(1)


@main.command()
@RESULTS
@click.option("--tail", "tail_lines", type=click.IntRange(min=0), default=5, show_default=True, help="Lines of each failed job's log to show.")
def status(results: Path, tail_lines: int) -> None:
    """Where a sweep stands: its runs finished, running, queued and failed (Slurm jobs: each
    failed one with its log and the log's last lines; resubmit it with `clt-kit resubmit`)."""
    from clt_kit.cluster.jobs import log_tail
    from clt_kit.cluster.slurm import FAILED, FINISHED, NOT_SUBMITTED, QUEUED, RUNNING, known_runs, statuses
    from clt_kit.layout import Layout

    found = statuses(Layout(results), known_runs(Layout(results)))
    for state in (RUNNING, QUEUED, FAILED, NOT_SUBMITTED):
        for run in (r for r in found if r.state == state):
            click.echo(f"{state}: run {run.run_id}" + (f" (job {run.job_id}, log {run.log})" if run.job_id else ""))
            if state == FAILED:
                for line in log_tail(run.log, tail_lines):
                    click.echo(f"    {line}")
    counts = {state: sum(r.state == state for r in found) for state in (FINISHED, RUNNING, QUEUED, FAILED)}
    click.echo(f"runs in {results}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    if counts[FAILED]:
        click.echo(f"submit the failed ones again: `clt-kit resubmit RUN_ID... --results {results}`, or the same `reproduce --executor slurm`")


@main.command()
@click.argument("run_ids", nargs=-1, required=True)
@RESULTS
def resubmit(run_ids: tuple[str, ...], results: Path) -> None:
    """Submit failed runs (by run id, as `clt-kit status` names them) again as Slurm jobs, with
    the job scripts they were first submitted with."""
    from clt_kit.cluster.slurm import resubmit as submit_again
    from clt_kit.layout import Layout

    for run, job in submit_again(Layout(results), list(run_ids)).items():
        click.echo(f"run {run}: job {job}")


@main.command()
@click.argument("job_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
def execute(job_file: Path) -> None:
    """Execute the one run of a job file (what each Slurm job runs; under `accelerate launch`,
    every process trains and the main one evaluates and writes the run folder)."""
    import socket

    from clt_kit.cluster.jobs import execute_job

    click.echo(f"clt-kit: executing {job_file} on {socket.gethostname()}")
    if (folder := execute_job(job_file)) is not None:
        click.echo(f"clt-kit: run finished: {folder}")


@main.command()
@click.argument("query")
@RESULTS
def sql(query: str, results: Path) -> None:
    """Run a read-only SQL query on the results database (RESULTS/clt.duckdb) and print it as tab-separated text.

    Read-only in fact: the query can read the database's tables and views, and nothing else (no
    other files read or written, no databases attached, no extensions installed, no setting changed)."""
    from clt_kit.layout import Layout
    from clt_kit.results.db import query as run_query

    db = Layout(results).db
    if not db.is_file():
        raise InputError(f"{db}: no results database here; run `clt-kit reproduce --figure 2` first or pass --results")
    import duckdb

    try:
        columns, rows = run_query(db, query)
    except duckdb.Error as e:
        raise InputError(f"{db}: {str(e).strip()}") from None
    click.echo("\t".join(columns))
    for row in rows:
        click.echo("\t".join("" if v is None else str(v) for v in row))



def _runs_read(db_path: Path, scale: str | None, seed: int | None) -> tuple[str, int]:
    """The scale and seed of the runs a command reads: those given; else those of the finished
    runs in the database (of the given scale or seed) when they are of one kind, the defaults
    when there are none, and an error naming them when there are several."""
    from clt_kit.results import db

    if scale is not None and seed is not None:
        return scale, seed
    with db.connect(db_path, read_only=True) as con:
        held = [(s, n) for s, n in db.run_kinds(con) if scale in (None, s) and seed in (None, n)]
    if len(held) > 1:
        ask = " and ".join(name for name, given in (("--scale", scale), ("--seed", seed)) if given is None)
        raise InputError(f"{db_path}: holds runs of {', '.join(f'{s} seed {n}' for s, n in held)}; choose which with {ask}")
    found_scale, found_seed = held[0] if held else (DEFAULT_SCALE, DEFAULT_SEED)
    return scale or found_scale, found_seed if seed is None else seed


@main.command()
@RUNS_SEED
@RUNS_SCALE
@RESULTS
def claims(seed: int | None, scale: str | None, results: Path) -> None:
    """Check the paper's findings on the paper's own numbers and on the runs in RESULTS.

    Each claim states what must hold and its threshold; each side says held, not held or not
    measurable (with the runs it still needs), and its numbers (results/claims.py, docs/study.md).
    The runs are those of --scale and --seed; without them, of the one scale and seed RESULTS holds."""
    from clt_kit.layout import Layout
    from clt_kit.results.claims import check_claims

    db = Layout(results).db
    if not db.is_file():
        raise InputError(f"{db}: no results database here; run `clt-kit reproduce --all` (or some figures) first or pass --results")
    scale, seed = _runs_read(db, scale, seed)
    for r in check_claims(db, get_scale(scale).name, seed):
        click.echo(f"{r.claim.name} (finding {r.claim.finding}): {r.claim.statement}")
        click.echo(f"  paper: {r.paper.status}: {r.paper.numbers}")
        click.echo(f"  clt-kit ({scale}, seed {seed}): {r.ours.status}: {r.ours.numbers}")


@main.command()
@RESULTS
@click.option("--paper", is_flag=True, help="Fit the paper's own numbers (its Tables 3-23, shipped with the kit) instead of RESULTS' runs.")
@click.option("--scale", type=click.Choice(sorted(SCALES)), default=None, help="The runs of this scale (default: the one scale RESULTS holds).")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="The runs of this seed (default: every seed; several runs at one k are bootstrapped together).")
@click.option("--target-gain", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None, metavar="SHARE",
              help="Enough data = this share of the gain from k=0 to the fitted plateau (default 0.9).")
@click.option("--target-rel", type=click.FloatRange(0, min_open=True), default=None, metavar="SHARE",
              help="Enough data = this share of English's score instead (e.g. 0.95).")
@click.option("--group", "groups", multiple=True, type=click.Choice(GROUPS), help="Groups to print (repeat; default: all). non_english is relative to English.")
@click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9, show_default=True, help="Coverage of the intervals.")
@click.option("--bootstrap", type=click.IntRange(min=20), default=200, show_default=True, help="Bootstrap replicates behind each interval.")
@click.option("--next", "next_", is_flag=True, help="Name the k values whose runs would most narrow the intervals of k_needed (of the printed groups' curves).")
@click.option("--count", type=click.IntRange(min=1), default=2, show_default=True, help="How many k values --next names.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list of records (with --next: a list of k values).")
@click.option("--plot", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Also draw the curves of the first printed group, with bands and k_needed, to this PNG/PDF/SVG.")
def advise(results: Path, paper: bool, scale: str | None, seed: int | None, target_gain: float | None, target_rel: float | None,
           groups: tuple[str, ...], level: float, bootstrap: int, next_: bool, count: int, as_json: bool, plot: Path | None) -> None:
    """How much non-English data does the mix need? Fits score against k for every model, task,
    setting, mixture and group of RESULTS' runs (or of the paper's numbers), and prints the smallest k
    per group that reaches the target, with its interval, the plateau and the value at k=0.

    The fits are stored in RESULTS/clt.duckdb (table curve_fits). docs/advise.md explains the model."""
    import json

    from clt_kit.layout import Layout
    from clt_kit.results import advise as adv

    if target_gain is not None and target_rel is not None:
        raise click.UsageError("--target-gain and --target-rel are two targets: give one")
    target = adv.Target(gain_share=None, rel=target_rel) if target_rel is not None else adv.Target(gain_share=target_gain or adv.DEFAULT_GAIN_SHARE)
    request = adv.Request(db=Layout(results).db, paper=paper, scale=scale, seed=seed, target=target, level=level, bootstrap=bootstrap)
    found = adv.answer(request)
    shown = groups or adv.GROUPS
    if next_:
        chosen = [c for c in found.curves if c.key[4] in shown]
        runs = adv.next_runs(chosen, target, count, level)
        click.echo(json.dumps([r.k for r in runs]) if as_json else adv.next_text(runs, chosen, f"{found.source}; groups {', '.join(shown)}"))
    elif as_json:
        click.echo(json.dumps([a.record() for a in found.advice if a.group in shown], indent=1))
    else:
        click.echo(f"{found.source}: {target.about()}")
        click.echo(adv.advice_text(found.advice, shown))
    if plot is not None:
        from clt_kit.results.advise_figure import draw_advice

        draw_advice(found.curves, found.advice, shown[0], plot, f"{found.source}: {target.about()}, group {shown[0]}", level)
        click.echo(f"figure: {plot}", err=as_json)


if __name__ == "__main__":
    main()
