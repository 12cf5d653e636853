"""Every benchmark script, run as a user would at tiny sizes (--quick), so that a refactor
that breaks one fails here instead of at the next measuring session.

Each runs as a command (this interpreter, the real VGG-19 weights, the bundled data/),
prints or writes its tables, and leaves the repository's RESULTS.md, docs/ and plot as
they were: a smoke run writes into a temporary directory. benchmarks/slurm.py needs a
SLURM cluster; its smoke run is in tests/test_slurm.py, on that file's cluster.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys

import pytest
from PIL import Image

from .benchmark_runs import BENCHMARKS, assert_measured, finite, markdown_tables, run_benchmark
from .conftest import REPO

sys.path.insert(0, str(BENCHMARKS))
from gpu import HEADING, PARTS  # noqa: E402

# What only a measuring run may write: the results, the README's pictures, the long-video plot.
MEASURED = [BENCHMARKS / "RESULTS.md", BENCHMARKS / "long_video.png", REPO / "docs"]


def fingerprints() -> dict[str, str]:
    files = [path for root in MEASURED for path in ([root] if root.is_file() else sorted(root.rglob("*")))]
    return {str(path): hashlib.sha256(path.read_bytes()).hexdigest() for path in files if path.is_file()}


@pytest.fixture(autouse=True)
def measured_results_untouched():
    before = fingerprints()
    yield
    assert fingerprints() == before, "a smoke run wrote into the repository's results"


def section_parts(section: str) -> list[str]:
    """The part titles (### headings) of gpu.py's section, in order."""
    return [line.removeprefix("### ") for line in section.splitlines() if line.startswith("### ")]


def test_video_benchmark_compares_the_three_runs():
    output = run_benchmark("video.py", "--quick")
    ((header, rows),) = markdown_tables(output)
    assert header[:6] == ["run", "wall s", "s/frame", "warp error", "style dist", "content dist"]
    assert [row[0] for row in rows] == ["(a) seed: independent, 5 Adam it", "(b) painterly independent",
                                        "(c) painterly temporal"]
    assert_measured(header, rows)
    assert all(finite(row[1]) > 0 and finite(row[3]) > 0 for row in rows)
    assert [finite(cell) for cell in rows[0][6:]] == [1, 1, 1]  # (a) against itself


@pytest.mark.slow
def test_image_benchmark_against_pastiche(tmp_path):
    output = run_benchmark("image.py", "--quick", "--out", str(tmp_path))
    (header, rows), (rate_header, rate_rows) = markdown_tables(output)
    assert header == ["run", "wall s", "style dist", "content dist", "speed-up vs pastiche", "style ratio",
                      "content ratio"]
    assert [row[0] for row in rows] == ["pastiche (1 L-BFGS steps)", "painterly (default: 10 it, early stop)",
                                        "painterly β/α=8, 2 it"]
    assert_measured(header, rows)
    assert rate_header[:2] == ["size", "s/iteration"] and len(rate_rows) == 1
    assert_measured(rate_header, rate_rows)
    assert {path.name for path in tmp_path.glob("*.png")} == {"pastiche.png", "painterly-default.png",
                                                              "painterly-sw8-2.png"}


@pytest.mark.slow
def test_workflow_benchmark_times_snakemake_and_the_dag():
    output = run_benchmark("workflow.py", "--quick")
    (header, rows), (dag_header, dag_rows) = markdown_tables(output)
    assert header == ["run", "wall s", "vs engine loop", "s/frame"]
    assert [row[0] for row in rows] == ["engine loop, one process", "snakemake, chunk_frames=3"]
    assert_measured(header, rows)
    assert dag_header == ["frames", "chunk_frames", "stylize jobs", "snakemake -n wall s"]
    assert dag_rows[0][:3] == ["40", "10", "4"] and finite(dag_rows[0][3]) > 0


@pytest.mark.slow
def test_scale_benchmark_measures_disk_and_dag_beside_the_revision_before():
    output = run_benchmark("scale.py", "--quick")
    assert "# Intermediates of one video: 10 frames at 48x36" in output  # per frame of the clip, not the DAG's
    tables = markdown_tables(output)
    (header, rows), (speed_header, speed_rows), (dag_header, dag_rows), (film_header, film_rows) = tables[:4]
    codec_header, codec_rows = tables[4]
    assert codec_rows[0][0] == "PNG per frame (before segments)" and len(codec_rows) == 5
    assert codec_header[:4] == ["codec", "KiB / frame", "vs PNG", "exact bytes back"]
    # Every candidate that encodes must give back the very bytes: a chunk file is lossless.
    for row in codec_rows:
        assert row[3] == "yes" and finite(row[1]) > 0 or row[3] == "encoder refused", row
    assert header == ["run", "kind", "KiB / frame", "files / frame", "total MiB (peak)"]
    assert_measured(header, rows, labels=2)
    runs = ["before (HEAD)", "this checkout"]
    assert [row[0] for row in speed_rows] == runs and [row[0] for row in dag_rows] == runs
    assert [row[0] for row in film_rows] == runs
    # The stylized chunks are there in both, and the kinds add up to "all"; this checkout
    # extracts no frames (its chunks read the video).
    for run in runs:
        kinds = {row[1]: finite(row[2]) for row in rows if row[0] == run}
        assert kinds["styled"] > 0 and (run != "this checkout" or kinds.get("frames", 0) == 0)
        assert kinds["all"] == pytest.approx(sum(v for k, v in kinds.items() if k != "all"), rel=0.02, abs=0.05)
    for table_header, table_rows in ((speed_header, speed_rows), (dag_header, dag_rows), (film_header, film_rows)):
        assert_measured(table_header, table_rows)


@pytest.mark.slow
def test_long_video_benchmark_compares_chunking_variants(tmp_path):
    plot = tmp_path / "long_video.png"
    output = run_benchmark("long_video.py", "--quick", "--plot", str(plot))
    (header, rows), (drift_header, drift_rows) = markdown_tables(output)
    assert header[:7] == ["clip", "variant", "borders", "warp error (sum)", "vs one chain",
                          "vs one chain at distance 5", "vs one chain at distance 10"]
    assert [row[:2] for row in rows] == [[clip, variant] for clip in ("vtest", "two-shots")
                                         for variant in ("one chain", "chunks", "chunks+seams", "chunks continued",
                                                         "seams, plain average")]
    assert_measured(header, rows, labels=2)
    by_variant = {(row[0], row[1]): dict(zip(header, row)) for row in rows}
    for (clip, variant), row in by_variant.items():
        assert variant != "one chain" or finite(row["vs one chain"]) == 1
        assert variant != "one chain" or finite(row["other frames (max)"]) == finite(row["worst pair / one chain's"]) == 1
        assert 1 <= int(row["its later frame"]) < 10
        # Only seams fade frames; the plain average differs from the seams only there.
        assert (row["style / one chain: faded (max)"] != "-") == (clip == "vtest")
        assert (row["faded frames' pairs / one chain's (max)"] != "-") == (clip == "vtest")
        if clip == "vtest":
            assert finite(row["faded frames' pairs / one chain's (max)"]) <= finite(row["worst pair / one chain's"])
        # The cut between the two shots is found (in every variant's frames), vtest has none.
        assert (row["cut frame style / first frame"] != "-") == (clip == "two-shots")
    # vtest is one shot: its borders are the chunks', each measured against the inner pairs.
    assert by_variant["vtest", "one chain"]["borders"] == "0"
    assert finite(by_variant["vtest", "one chain"]["vs one chain at distance 5"]) == 1  # 10 frames: 5 such pairs
    for variant in ("chunks", "chunks+seams", "chunks continued"):
        assert int(by_variant["vtest", variant]["borders"]) >= 1
        assert finite(by_variant["vtest", variant]["worst border / inner p95"]) > 0
    # Chunks that continue the chain before them are the one chain, frame for frame.
    continued = by_variant["vtest", "chunks continued"]
    assert finite(continued["vs one chain"]) == finite(continued["vs one chain at distance 5"]) == 1
    assert finite(continued["worst pair / one chain's"]) == 1
    assert int(by_variant["two-shots", "chunks+seams"]["borders"]) >= 1  # a border at the cut
    assert drift_header[:2] == ["frame", "style distance"] and len(drift_rows) == 7
    assert_measured(drift_header, drift_rows)
    assert Image.open(plot).format == "PNG"


@pytest.mark.slow
def test_long_term_benchmark_compares_variants_at_four_distances_and_drift(tmp_path):
    plot = tmp_path / "drift.png"
    # 16 drift frames of a 12-frame clip: the clip is looped back (frames met twice).
    output = run_benchmark("long_term.py", "--quick", "--pan", "--drift-frames", "16", "--variant", "strong",
                           "--set-variant", "strong", "temporal_weight=200", "--plot", str(plot))
    (header, rows), (drift_header, drift_rows) = markdown_tables(output)
    assert header[3:7] == [f"warp error / source's, {k} apart" for k in (1, 5, 10, 20)]
    assert [row[:3] for row in rows] == [[clip, "12", variant] for clip in ("vtest", "building (slow pan)")
                                         for variant in ("today", "strong")]
    for row in rows:  # 12 frames have no pair 20 apart
        assert all(finite(cell) > 0 for cell in row[3:6] + row[7:]) and row[6] == "-", row
    assert drift_header[:3] == ["variant", "frame", "style distance"] and len(drift_rows) == 10
    assert drift_header[-2].startswith("still background") and [finite(c) for c in drift_rows[0][-2:]] == [0, 0]
    assert_measured(drift_header, drift_rows, labels=1)
    assert Image.open(plot).format == "PNG"


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("dot") is None, reason="the rule graph needs graphviz's dot")
def test_readme_media_benchmark_writes_the_pictures(tmp_path):
    output = run_benchmark("readme_media.py", "--quick", "--out", str(tmp_path))
    names = ("strip.jpg", "sample.gif", "dag.svg")
    assert [line.split(":")[0] for line in output.splitlines()[-3:]] == [str(tmp_path / name) for name in names]
    strip, gif = Image.open(tmp_path / "strip.jpg"), Image.open(tmp_path / "sample.gif")
    assert strip.height == 2 * 150 + 4  # inputs above, results below
    assert gif.n_frames == 30  # every frame of data/vtest.mp4
    assert "stylize_frames" in (tmp_path / "dag.svg").read_text()


# Every part, in three runs that test workers can take side by side; each run names its
# first part by number and the others by key, into a copy of RESULTS.md.
THIRDS = [list(enumerate(PARTS, 1))[i:i + 4] for i in range(0, len(PARTS), 4)]


@pytest.mark.slow
@pytest.mark.parametrize("parts", THIRDS, ids=lambda parts: ",".join(part.key for _, part in parts))
def test_gpu_benchmark_runs_the_chosen_parts_quickly_on_the_cpu(tmp_path, parts):
    results = tmp_path / "RESULTS.md"
    shutil.copy(BENCHMARKS / "RESULTS.md", results)
    others = results.read_text().split(HEADING)[0]  # the GPU section, if any, is the last
    names = [str(parts[0][0]), *(part.key for _, part in parts[1:])]
    output = run_benchmark("gpu.py", "--quick", "--device", "cpu", "--parts", ",".join(names),
                           "--results", str(results))
    text = results.read_text()
    assert text.startswith(others)  # the other sections kept; this one replaced or added at the end
    section = text[len(others):].strip()
    assert section.startswith(HEADING)
    keys = ",".join(part.key for _, part in parts)
    assert f"`python benchmarks/gpu.py --quick --parts {keys} --budget 450`" in section
    ran = ", ".join(f"{number} (`{part.key}`)" for number, part in parts)
    assert f"Parts run: {ran} of the {len(PARTS)}" in section
    assert section_parts(section) == [part.title for _, part in parts]
    printed = [line.removeprefix("## ") for line in output.splitlines() if line.startswith("## ")]
    assert printed == section_parts(section)
    assert "Failed" not in section, section
    tables = markdown_tables(section)
    assert len(tables) >= len(parts)  # one table each at least
    for header, rows in tables:
        assert_measured(header, rows)
    first_cells = {header[0]: [row[0] for row in rows] for header, rows in tables}
    chosen = {part.key for _, part in parts}
    if "profile" in chosen:
        assert {"kind of work", "kernel or op"} <= set(first_cells)
    if "quality" in chosen:
        assert first_cells["metric"] == ["image style", "image content", "video style", "video content",
                                         "video warp error"]


def test_gpu_parts_are_numbered_and_named_in_help_and_errors():
    help_text = run_benchmark("gpu.py", "--help")
    for number, part in enumerate(PARTS, 1):
        assert f"{number}. [{part.key}]" in help_text  # the docstring's list, as --help shows it
    assert len({part.key for part in PARTS}) == len(PARTS)
    result = subprocess.run([sys.executable, str(BENCHMARKS / "gpu.py"), "--parts", "1,nine"], capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "no part nine; the parts are 1 stream, 2 job" in result.stderr
