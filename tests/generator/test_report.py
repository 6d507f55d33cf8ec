"""The build report (generator/report.py, generator/plots.py): files, units, figures,
synthesis beside the estimate, determinism of the PNGs."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from bitsmith.boards.flows.counts import BRAM_KBIT, units
from bitsmith.generator import plots
from bitsmith.generator.build import BuildOptions, load_model, prepare, write_bundle
from bitsmith.generator.outdir import board_folder
from bitsmith.generator.report import refresh_report, report_figures, synthesise
from bitsmith.generator.templating import render

MODEL = Path(__file__).resolve().parents[2] / "generator" / "examples" / "digits" / "digits.yaml"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    opts = BuildOptions(topk=1)
    graph = prepare(load_model(MODEL, opts), opts)
    return write_bundle(graph, tmp_path_factory.mktemp("report") / "out").out_dir


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append(kind.decode())
        pos += 12 + length
    return chunks


def fake_synth(out: Path, board: str, family: str, **figures) -> None:
    """A ``synth.json`` as ``bitsmith.boards.synth`` writes it (the figures given)."""
    folder = out / "board" / board
    folder.mkdir(parents=True, exist_ok=True)
    u = units(family)
    result = {"board": board, "device": {"ice40": "iCE40UP5K", "ecp5": "LFE5U-85F"}[family],
              "part": "x", "flow": "open", "units": u, "bram_kbit": BRAM_KBIT[u["brams"]],
              "fmax_mhz": 61.5, "clock_mhz": 60.0, "timing_met": True, "fits": True,
              "system": {"luts": {"used": 4000, "available": 5280, "unit": "logic cells"}},
              **figures}
    (folder / "synth.json").write_text(json.dumps(result))


def test_bundle_has_the_report_in_three_forms(built):
    report = json.loads((built / "report.json").read_text())
    assert report["estimate"]["units"] == {"luts": "LUT4", "ffs": "FF", "brams": "BRAM18", "dsps": "DSP"}
    assert report["estimate"]["bram_kbit"] == 18
    assert "synth_ecp5" in report["estimate"]["model"]
    assert sorted(p.name for p in (built / "figures").iterdir()) == ["cycles.png", "resources.png"]
    md = (built / "report.md").read_text()
    assert "| cycles | LUT4 | FF | BRAM18 | DSP |" in md
    assert "![Cycles per layer against the bottleneck](figures/cycles.png)" in md
    html = (built / "report.html").read_text()
    assert html.count('<img src="data:image/png;base64,') == 2 and "figures/" not in html
    assert "Synthesis" not in md and "Synthesis" not in html


def test_figures_are_byte_identical_across_renders_and_processes(built):
    report = json.loads((built / "report.json").read_text())
    first = plots.layer_cycles(report)
    assert plots.layer_cycles(report) == first
    assert (built / "figures" / "cycles.png").read_bytes() == first
    script = ("import json, sys; from bitsmith.generator import plots; "
              f"sys.stdout.buffer.write(plots.layer_cycles(json.load(open({str(built / 'report.json')!r}))))")
    other = subprocess.run([sys.executable, "-c", script], capture_output=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert other == first


@pytest.mark.parametrize("name", ["cycles.png", "resources.png"])
def test_pngs_carry_no_metadata(built, name):
    chunks = png_chunks((built / "figures" / name).read_bytes())
    assert chunks[0] == "IHDR" and chunks[-1] == "IEND"
    assert not {"tEXt", "iTXt", "zTXt", "tIME"} & set(chunks)


def test_synthesis_is_added_beside_the_estimate(built, tmp_path):
    import shutil
    out = tmp_path / "out"
    shutil.copytree(built, out)
    fake_synth(out, "icebreaker", "ice40", luts=3210, ffs=2900, brams=6, dsps=0)
    fake_synth(out, "ulx3s", "ecp5", luts=9100, ffs=8500, brams=2, dsps=0)
    report = refresh_report(out)
    assert sorted(report["synth"]) == ["icebreaker", "ulx3s"]
    assert report["synth"]["icebreaker"]["units"]["brams"] == "EBR"
    assert json.loads((out / "report.json").read_text())["synth"] == report["synth"]
    md = (out / "report.md").read_text()
    ice, ecp = report["family_estimates"]["ice40"], report["family_estimates"]["ecp5"]
    assert (f"| icebreaker | iCE40UP5K | 3,210 LUT4 ({ice['luts']:,}) | 2,900 FF ({ice['ffs']:,}) | "
            f"6 EBR (24 kbit) ({ice['brams']:g}) | 0 SB_MAC16 | 61.5 | 60 | 4,000/5,280 logic cells |") in md
    assert (f"| ulx3s | LFE5U-85F | 9,100 LUT4 ({ecp['luts']:,}) | 8,500 FF ({ecp['ffs']:,}) | "
            f"2 DP16KD (36 kbit) ({ecp['brams']:g}) |") in md
    assert "## Estimate per device family" in md and "| xc7 |" in md
    assert "![Estimate beside synthesis of the core](figures/synthesis.png)" in md
    assert png_chunks((out / "figures" / "synthesis.png").read_bytes())[0] == "IHDR"
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 3
    # once the board folder is gone, the figure goes too
    shutil.rmtree(out / "board")
    assert refresh_report(out)["synth"] == {}
    assert not (out / "figures" / "synthesis.png").exists()


def test_synthesise_writes_the_report_again(built, tmp_path, monkeypatch):
    import shutil

    import bitsmith.boards
    out = tmp_path / "out"
    shutil.copytree(built, out)

    def fake(out_dir, board, *, progress=None, **options):
        fake_synth(Path(out_dir), board, "ice40", luts=1, ffs=2, brams=0, dsps=0)
        return {"board": board, "options": options}

    monkeypatch.setattr(bitsmith.boards, "synth", fake)
    steps = []
    assert synthesise(out, "icebreaker", progress=steps.append, clock_mhz=30.0) == \
        {"board": "icebreaker", "options": {"clock_mhz": 30.0}}
    assert steps == ["writing the report with the synthesis figures"]
    assert "| icebreaker | iCE40UP5K | 1 LUT4 (" in (out / "report.md").read_text()


def test_html_escapes_what_the_user_named(built):
    report = json.loads((built / "report.json").read_text())
    report["name"] = "<script>x</script>"
    report["layers"][0]["name"] = "a&b"
    html = render("report.html.j2", r=report, figures=[], synth=[])
    assert "<script>x" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<td>a&amp;b</td>" in html


def test_report_without_layers_has_no_figures(built):
    report = json.loads((built / "report.json").read_text())
    assert [f.file for f in report_figures({**report, "layers": []})] == []


def test_estimate_vs_synthesis_needs_synthesis(built):
    report = json.loads((built / "report.json").read_text())
    with pytest.raises(ValueError, match=r"^report has no synthesis results \(run `bitsmith synth` first\)$"):
        plots.estimate_vs_synthesis(report)


def test_bench_and_sweep_figures():
    rows = [{"name": "a", "ideal_cycles_per_frame": 16, "cycles_per_frame": 16.0},
            {"name": "b", "ideal_cycles_per_frame": 64, "cycles_per_frame": 66.5},
            {"name": "skipped", "ideal_cycles_per_frame": None, "cycles_per_frame": None}]
    png = plots.bench_cycles(rows)
    assert png == plots.bench_cycles(rows) and png_chunks(png)[0] == "IHDR"
    with pytest.raises(ValueError, match=r"^no network has both ideal and measured cycles per frame$"):
        plots.bench_cycles(rows[2:])
    points = [{"target": t, "cycles": t, "luts": 100000 // t, "pareto": True} for t in (2, 16, 128)]
    board = {"name": "icebreaker", "device": "iCE40UP5K", "clock_mhz": 12.0, "luts": 5280,
             "lut_unit": "LUT4"}
    png = plots.sweep_front("net", points, [board], baseline=points[1])
    assert png == plots.sweep_front("net", points, [board], baseline=points[1])
    with pytest.raises(ValueError, match=r"^boards must not be empty$"):
        plots.sweep_front("net", points, [])


def test_a_report_written_again_stays_bitsmith_s_so_the_folder_can_be_rebuilt(built, tmp_path):
    """``synth`` (and ``build --board``) write the report again after the build: its marker
    must list the new report and figures, or the next build into the folder refuses."""
    import shutil
    from bitsmith.generator.outdir import foreign_entry
    out = tmp_path / "out"
    shutil.copytree(built, out)
    with board_folder(out, "icebreaker"):
        fake_synth(out, "icebreaker", "ice40", luts=3210, ffs=2900, brams=6, dsps=0)
    refresh_report(out)
    assert (out / "figures" / "synthesis.png").exists()
    assert foreign_entry(out) is None
    shutil.rmtree(out / "board")
    refresh_report(out)                 # synthesis.png goes: gone from the marker too
    assert foreign_entry(out) is None
    opts = BuildOptions(topk=1)
    write_bundle(prepare(load_model(MODEL, opts), opts), out)
    (out / "report.md").write_text("edited")
    assert foreign_entry(out) == "'report.md' was changed after bitsmith wrote it"
