"""The bulk Verilator harness: build a top once (cached), push thousands of frames through.

:func:`build` renders ``templates/sim/harness.cpp.j2`` for the top's :class:`StreamIO`,
compiles it with the top's Verilog (``verilator --cc --exe --build -O3``) and caches the
executable under a key over the Verilog text, the rendered harness, the Verilator
version and the Verilator arguments. :func:`run` writes the frames to a word file, runs
the executable and reads back a :class:`RunResult`. The harness drives ``s_axis`` with
an idle pattern and ``m_axis_tready`` with a backpressure pattern, counts tlast and
AXI4-Stream hold violations on ``m_axis``, and records the cycle each output frame
completes (see the comment at the top of the template for the exact cycle convention).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bitsmith.generator.errors import ToolError

from .primitives import with_models
from .stream import ResetAt, RunResult, StreamIO, check_run_args, read_result, write_input
from .toolchain import (RESET_CYCLES, build_jobs, cache_key, cache_root, render, run_process, run_tool,
                        verilator_version)

log = logging.getLogger(__name__)

HARNESS_SOURCE = "harness.cpp"
EXECUTABLE = "harness"
STALL_CYCLES = 1_000_000
"""Default: give up after this many cycles without a handshake on either port."""
TRACE_MODES = ("named", "all")
"""``build(trace=...)``: VCD of the named signals only, or of every signal."""
TRACE_CONTROL = "trace_named.vlt"
TRACE_CONTROL_TEXT = '`verilator_config\ntracing_off -scope "*.$*"\n'
"""Verilator control file of ``trace="named"``: no tracing of the signals Yosys named
``$<n>`` (its temporaries: about two thirds of an Amaranth design's signals)."""


def render_harness(io: StreamIO) -> str:
    """The harness C++ source for ``io``."""
    return render("harness.cpp", io=io, reset_cycles=RESET_CYCLES)


PROFILE_CYCLES = 200_000
"""Cycles of the training run of a profile-guided build (:func:`build` ``profile=True``)."""
PROFILE_GENERATE = ["-CFLAGS", "-fprofile-generate", "-LDFLAGS", "-fprofile-generate"]
PROFILE_USE = ["-CFLAGS", "-fprofile-use -fprofile-partial-training -Wno-missing-profile"]
"""The extra arguments of the two compiles of a profile-guided build (GCC): the first
writes ``*.gcda`` beside the objects when the harness runs, the second reads them.
``-fprofile-partial-training`` keeps the code the training run never reached (reset,
stalls) optimised as usual."""


def verilator_args(io: StreamIO, *, trace: str | None = None, jobs: int | None = None,
                   profile: str | None = None) -> list[str]:
    """Arguments of the ``verilator`` call that builds the harness (sources not included,
    except :data:`TRACE_CONTROL` with ``trace="named"``, which must be in the working
    directory). The executable lands in ``obj/harness`` below the working directory.
    ``profile`` is ``"generate"`` or ``"use"`` for the two compiles of a profile-guided
    build (compiled with ``-O3`` instead of ``-O2``).
    """
    args = ["--cc", "--exe", "--build", "-O3", "-Wno-fatal", "--top-module", io.top,
            "--prefix", "Vtop", "-Mdir", "obj", "-o", EXECUTABLE,
            "-CFLAGS", "-std=c++17", "--build-jobs", str(jobs or build_jobs()),
            # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so designs big enough
            # to be split into several .cpp files fail to compile ("Vtop__pch.h.fast: linker
            # input file not found"); give make the flag that includes the precompiled header.
            "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include",
            # verilated.mk compiles the model with -Os; -O2 simulates TFC-w1a1 at FINN's
            # folding 13 % faster (0.667 -> 0.753 M cycles per CPU second, docs/FIT.md).
            "-MAKEFLAGS", "OPT_FAST=-O2", "-MAKEFLAGS", "OPT_GLOBAL=-O2"]
    if profile is not None:
        if profile not in ("generate", "use"):
            raise ValueError(f"profile must be None, 'generate' or 'use', not {profile!r}")
        args += ["-MAKEFLAGS", "OPT_FAST=-O3", "-MAKEFLAGS", "OPT_GLOBAL=-O3",
                 *(PROFILE_GENERATE if profile == "generate" else PROFILE_USE)]
    if trace is not None:
        args.append("--trace")
    if trace == "named":
        args.append(TRACE_CONTROL)
    return args


def build(verilog: Path, io: StreamIO, cache_dir: Path | None = None, *,
          trace: str | None = None, profile: bool = False) -> Path:
    """Build (or fetch from the cache) the harness executable for one top.

    Parameters
    ----------
    verilog : Path
        The Verilog file holding ``io.top`` and everything below it.
    io : StreamIO
        The top's stream shape.
    cache_dir : Path, optional
        Cache root; the build lives in ``cache_dir/<key>``. Default: see
        :func:`bitsmith.sim.rtl.toolchain.cache_root` (``$BITSMITH_CACHE/verilator`` or
        ``~/.cache/bitsmith/verilator``).
    trace : {None, "named", "all"}
        Build with ``--trace`` so that :func:`run` can write a VCD (slower simulation):
        of the named signals (``$<n>`` temporaries left out, :data:`TRACE_CONTROL_TEXT`)
        or of all of them.
    profile : bool
        Profile-guided build for long runs: compile with GCC's instrumentation, run
        :data:`PROFILE_CYCLES` cycles of random words through it, compile again with the
        profile (about twice the build time; TFC-w1a1 at FINN's folding then simulates
        0.88 -> 1.2 M cycles per second, docs/FIT.md). Not with ``trace``. If the
        instrumented build or its training run fails (a compiler without GCC's profile
        options), the harness is built without a profile, with a warning.

    Returns
    -------
    Path
        The executable. A second call with the same inputs does not run Verilator.
    """
    if not isinstance(io, StreamIO):
        raise TypeError(f"io must be a StreamIO, not {io!r}")
    if trace is not None and trace not in TRACE_MODES:
        raise ValueError(f"trace must be None, 'named' or 'all', not {trace!r}")
    if profile and trace is not None:
        raise ValueError("a profile-guided build cannot trace (build with profile=False)")
    verilog = Path(verilog)
    text = with_models(verilog.read_text())      # + models of vendor primitives (SPRAM)
    harness = render_harness(io)
    use = "use" if profile else None
    args = verilator_args(io, trace=trace, jobs=1, profile=use)  # the key must not depend on the job count
    key = cache_key("harness", text, harness, verilator_version(), " ".join(args),
                    TRACE_CONTROL_TEXT if trace == "named" else "",
                    f"profile {PROFILE_CYCLES}" if profile else "")
    root = cache_root(cache_dir)
    entry = root / key
    executable = entry / "obj" / EXECUTABLE
    if executable.is_file():
        log.info("harness cache hit for %s: %s", io.top, entry)
        return executable

    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=root))
    try:
        (work / "design.v").write_text(text)
        (work / HARNESS_SOURCE).write_text(harness)
        if trace == "named":
            (work / TRACE_CONTROL).write_text(TRACE_CONTROL_TEXT)
        log.info("building the Verilator harness for %s from %s", io.top, verilog)
        try:
            final = use
            if profile:
                try:
                    _invoke_verilator([*verilator_args(io, profile="generate"), HARNESS_SOURCE,
                                       "design.v"], work)
                    _train(work, io)
                except ToolError as exc:  # e.g. a GCC without -fprofile-partial-training
                    log.warning("profile-guided harness build failed (%s); building it "
                                "without a profile", exc)
                    shutil.rmtree(work / "obj", ignore_errors=True)
                    final = None
            _invoke_verilator([*verilator_args(io, trace=trace, profile=final), HARNESS_SOURCE,
                               "design.v"], work)
        except ToolError:
            failed_log = root / f"{key}.failed.log"
            shutil.copyfile(work / "build.log", failed_log)
            raise ToolError(f"Verilator could not build the harness for {io.top!r} from "
                            f"{verilog}; log: {failed_log}") from None
        # Keep the executable only: the object files are ~100x its size and a cache hit
        # never needs them.
        for item in (work / "obj").iterdir():
            if item.name != EXECUTABLE:
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        try:
            work.rename(entry)
        except OSError:  # another process finished the same build first
            if not executable.is_file():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return executable


def _train(work: Path, io: StreamIO) -> None:
    """The training run of a profile-guided build: :data:`PROFILE_CYCLES` cycles of
    seeded random words through the instrumented harness in ``work/obj`` (its profile
    lands beside the objects), then the objects and the executable are removed so that
    the next compile rebuilds them with the profile."""
    import numpy as np
    obj = work / "obj"
    words = min(PROFILE_CYCLES, max(1, (32 << 20) // (io.in_bits // 8)))   # <= 32 MiB
    words -= words % io.in_words_per_frame
    words = max(words, io.in_words_per_frame)
    data = np.random.default_rng(0).integers(0, 256, size=words * (io.in_bits // 8), dtype=np.uint8)
    (work / "train.bin").write_bytes(data.tobytes())
    completed = run_process([str(obj / EXECUTABLE), "--in", str(work / "train.bin"),
                             "--out", str(work / "train.out"), "--stats", str(work / "train.json"),
                             "--max-cycles", str(PROFILE_CYCLES)],
                            cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if completed.returncode != 0:
        (work / "build.log").write_text(completed.stderr + completed.stdout)
        raise ToolError(f"the instrumented harness failed (exit {completed.returncode})")
    for item in obj.iterdir():
        if item.suffix in (".o", ".a") or item.name == EXECUTABLE:
            item.unlink()


def _invoke_verilator(args: Sequence[str], cwd: Path) -> None:
    """The one place that runs Verilator for the harness (tests patch it to count calls)."""
    run_tool(["verilator", *args], cwd, cwd / "build.log", "Verilator")


def run(exe: Path, io: StreamIO, frames: Sequence[Sequence[int]], idle: str = "none",
        backpressure: str = "none", seed: int = 0, timeout_cycles: int | None = None, *,
        stall_cycles: int = STALL_CYCLES, waves: Path | None = None,
        waves_frames: tuple[int, int | None] | None = None,
        resets: Sequence[ResetAt] = ()) -> RunResult:
    """Run frames through a harness built by :func:`build`.

    Parameters
    ----------
    exe : Path
        The executable from :func:`build` for the same ``io``.
    io : StreamIO
        The top's stream shape.
    frames : sequence of sequence of int, or numpy.ndarray
        Input words, ``io.in_words_per_frame`` per frame, each ``0 <= w < 2**io.in_bits``;
        a 2-D integer array ``(frames, in_words_per_frame)`` is packed fastest.
    idle, backpressure : str
        Pause patterns of the source (idle cycles between input words) and of the sink
        (``m_axis_tready`` low): ``"none"``, ``"cycle"`` (1,1,1,0 repeated), ``"random"``
        (50 %), ``"random:P"`` (P % of the cycles, 0..99) or ``"stall:RUN:PAUSE"`` (RUN
        cycles active, PAUSE paused, repeated: long stalls).
    seed : int
        Seed of the random patterns.
    timeout_cycles : int, optional
        Stop after this many cycles; ``None`` runs until every frame is out.
    stall_cycles : int
        Stop after this many cycles without any handshake (a hung DUT); 0 disables.
    waves : Path, optional
        Write a VCD here; ``exe`` must be built with ``trace``.
    waves_frames : (int, int or None), optional
        ``(a, b)``: the VCD covers frames ``a..b-1`` only (``b`` None: to the end), from
        the cycle after input frame ``a-1`` is in until output frame ``b-1`` is out.
    resets : sequence of ResetAt
        Resets asserted in the middle of the traffic, in the order they happen (see
        :class:`ResetAt`); frames in flight are lost, :attr:`RunResult.frame_ids` says
        which input frame each output frame belongs to.

    Returns
    -------
    RunResult
        Outputs and cycle counts. Protocol problems and timeouts are reported in it, not
        raised; call :meth:`RunResult.check` to turn them into :class:`CheckFailed`.
    """
    check_run_args(idle=idle, backpressure=backpressure, seed=seed,
                   timeout_cycles=timeout_cycles, stall_cycles=stall_cycles, harness=True)
    if not all(isinstance(event, ResetAt) for event in resets):
        raise TypeError(f"resets must be ResetAt events, not {list(resets)!r}")
    with tempfile.TemporaryDirectory(prefix="bitsmith-harness-") as tmp:
        tmp = Path(tmp)
        write_input(tmp / "in.bin", io, frames)
        command = [str(exe), "--in", str(tmp / "in.bin"), "--out", str(tmp / "out.bin"),
                   "--stats", str(tmp / "stats.json"), "--idle", idle,
                   "--backpressure", backpressure, "--seed", str(seed),
                   "--max-cycles", str(timeout_cycles or 0), "--stall-cycles", str(stall_cycles)]
        if resets:
            command += ["--resets", ",".join(event.to_arg() for event in resets)]
        if waves is not None:
            command += ["--trace", str(Path(waves).resolve())]
            if waves_frames is not None:
                first, stop = check_frame_window(waves_frames, len(frames))
                command += ["--trace-from-frame", str(first), "--trace-to-frame", str(stop or 0)]
        completed = run_process(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if completed.returncode != 0:
            message = (completed.stderr.strip() or completed.stdout.strip()).splitlines()
            raise ToolError(f"the harness {exe} failed (exit {completed.returncode}): "
                            f"{message[-1] if message else 'no output'}")
        return read_result(tmp / "out.bin", tmp / "stats.json", io)


def check_frame_window(window: tuple[int, int | None], frames: int) -> tuple[int, int | None]:
    """``(a, b)`` checked against a run of ``frames`` frames: ``0 <= a < b <= frames``
    (``b`` None: to the end); ValueError otherwise."""
    if (not isinstance(window, tuple) or len(window) != 2 or not isinstance(window[0], int)
            or not (window[1] is None or isinstance(window[1], int))):
        raise ValueError(f"waves_frames must be a pair (a, b) of integers (b may be None), "
                         f"not {window!r}")
    first, stop = window
    end = frames if stop is None else stop
    if not 0 <= first < end <= frames:
        raise ValueError(f"waves_frames must satisfy 0 <= a < b <= {frames} (the frames run), "
                         f"not {window!r}")
    return first, stop
