"""The report's tables and plots of a video row (``snakemake --report``; rules/report.smk).

Each reads what the workflow already wrote -- Snakemake's ``benchmark:`` files, the
chunks' loss records (painterly.jobs.provenance), the warp error table, the cuts -- and marks
chunk borders where the video's chunk plan (painterly.video.shots.plan_video) put them.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pandas as pd
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..errors import PainterlyError
from ..media.io import atomic_path
from ..video.loss_records import read_chunk_record
from ..video.shots import Chunk

# Figures are drawn through matplotlib.figure.Figure, not pyplot: Agg and SVG canvases
# only, no display and no global figure list, whatever the job's environment.
# Same text, same bytes: SVG element ids from a fixed salt, no date in the file.
matplotlib.rcParams["svg.hashsalt"] = "painterly"
# Text as text, not outlines: smaller files, and the words stay searchable.
matplotlib.rcParams["svg.fonttype"] = "none"
CUT_COLOR, BORDER_COLOR, SEAM_COLOR = "tab:red", "0.45", "0.88"


def chunk_times(benchmarks, chunk_dirs, plan: list[Chunk], output) -> None:
    """An HTML table of the stylize jobs: frames, wall and CPU seconds, memory, device."""
    rows = []
    for index, (benchmark, chunk_dir, chunk) in enumerate(zip(benchmarks, chunk_dirs, plan, strict=True)):
        measured = pd.read_csv(benchmark, sep="\t").iloc[0]
        stylized = chunk.end - chunk.first + chunk.run_up
        rows.append({
            "chunk": f"{index:04d}", "frames": f"{chunk.first}–{chunk.end - 1}", "lead-in": chunk.run_up,
            "frames stylized": stylized, "wall s": measured["s"], "s / frame": measured["s"] / stylized,
            "CPU s": measured["cpu_time"], "max RSS MB": measured["max_rss"],
            "device": ", ".join(read_chunk_record(chunk_dir)["devices"]),
        })
    table = pd.DataFrame(rows)
    total = {"chunk": "all", "frames": f"{plan[0].first}–{plan[-1].end - 1}", "lead-in": table["lead-in"].sum(),
             "frames stylized": table["frames stylized"].sum(), "wall s": table["wall s"].sum(),
             "CPU s": table["CPU s"].sum(), "max RSS MB": table["max RSS MB"].max(), "device": ""}
    total["s / frame"] = total["wall s"] / total["frames stylized"]
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    html = table.to_html(index=False, float_format=lambda value: f"{value:.3g}", border=0)
    page = ("<!DOCTYPE html><html><head><meta charset='utf-8'><style>"
            "body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse}"
            "th,td{padding:4px 10px;text-align:right;border-bottom:1px solid #ddd}"
            "tr:last-child{font-weight:bold}</style></head><body>" + html + "</body></html>\n")
    with atomic_path(output) as tmp:
        tmp.write_text(page)


def _mark_chunks(ax, plan: list[Chunk], cuts) -> None:
    """Dashed lines at cuts, dotted ones at the other chunk borders, each between the last
    frame before it and the first after; the lead-in frames of seams shaded. Frames on
    whole-numbered ticks."""
    offset = 0.5
    borders = [chunk for chunk in plan[1:] if chunk.first not in cuts]
    for cut in cuts:
        ax.axvline(cut - offset, color=CUT_COLOR, linestyle="--", linewidth=1)
    for chunk in borders:
        ax.axvline(chunk.first - offset, color=BORDER_COLOR, linestyle=":", linewidth=1.2)
        if chunk.run_up:
            ax.axvspan(chunk.chain_first - offset, chunk.first - offset, color=SEAM_COLOR, zorder=0)
    handles = [Line2D([], [], color=CUT_COLOR, linestyle="--", label="cut (chain restarts)")] if cuts else []
    if borders:
        handles.append(Line2D([], [], color=BORDER_COLOR, linestyle=":", label="chunk border in a shot"))
    if any(chunk.run_up for chunk in borders):
        handles.append(Patch(color=SEAM_COLOR, label="seam (cross-faded)"))
    ax.legend(handles=[*ax.get_legend_handles_labels()[0], *handles], fontsize="small", loc="best")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _save(figure, output) -> None:
    with atomic_path(output) as tmp:
        figure.savefig(tmp, format=Path(output).suffix.lstrip("."), metadata={"Date": None})


def plot_losses(chunk_dirs, plan: list[Chunk], cuts, output) -> None:
    """Left: every frame's loss curve at full size (its last pyramid level); right: each
    frame's final loss, lead-in frames hollow, with cuts and chunk borders."""
    frames = [frame for chunk_dir in chunk_dirs for frame in read_chunk_record(chunk_dir)["frames"]]
    last = max(int(Path(frame["frame"]).stem) for frame in frames) or 1
    figure = Figure(figsize=(12, 4.2), layout="constrained")
    curves, finals = figure.subplots(1, 2)
    colors = matplotlib.colormaps["viridis"]
    for frame in frames:
        index = int(Path(frame["frame"]).stem)
        curve = frame["losses"][-1]
        curves.plot(range(1, len(curve) + 1), curve, color=colors(index / last), linewidth=0.8,
                    linestyle=":" if frame["lead_in"] else "-")
    # Log: a chain's first frame starts far above the frames that start from its result.
    curves.set(yscale="log", xlabel="iteration at full size", ylabel="loss",
               title="Loss curve of each frame (dotted: lead-in)")
    figure.colorbar(ScalarMappable(Normalize(0, last), colors), ax=curves, label="frame")
    for lead_in, style in ((False, dict(color="tab:blue", label="frame")),
                           (True, dict(facecolors="none", edgecolors="tab:orange", label="lead-in frame"))):
        chosen = [frame for frame in frames if frame["lead_in"] == lead_in]
        if chosen:
            finals.scatter([int(Path(f["frame"]).stem) for f in chosen], [f["losses"][-1][-1] for f in chosen],
                           s=14, **style)
    finals.set(xlabel="frame", ylabel="final loss", title="Final loss per frame")
    _mark_chunks(finals, plan, cuts)
    _save(figure, output)


def plot_warp_error(table_path, plan: list[Chunk], cuts, output) -> None:
    """The warp error of each frame pair (t, t+k) at each distance k of the table, drawn
    between the two frames, with its mean against the source's own, cuts, chunk borders
    inside shots and their cross-faded seams."""
    table = pd.read_csv(table_path, sep="\t", dtype={"pair": str})
    if "distance" not in table.columns:
        raise PainterlyError(f"{table_path}: written by an older painterly (no distance column); delete it and run again")
    figure = Figure(figsize=(12, 4.2), layout="constrained")
    ax = figure.subplots()
    for (distance, rows), color in zip(table.groupby("distance"), ("tab:blue", "tab:orange", "tab:purple")):
        mean = rows[rows["pair"] == "mean"].iloc[0]
        pairs = rows[rows["pair"] != "mean"]
        x = [int(pair.split("-")[0]) + distance / 2 for pair in pairs["pair"]]
        label = "frame pair" if distance == 1 else f"frames {distance} apart"
        ax.plot(x, pairs["warp_error"], marker="o", markersize=3, linewidth=1, color=color, label=label, zorder=3)
        if len(pairs):
            ratio = mean["warp_error"] / mean["source_warp_error"] if mean["source_warp_error"] > 0 else float("nan")
            ax.axhline(mean["warp_error"], color=color, linewidth=1, alpha=0.6,
                       label=f"mean {mean['warp_error']:.4g} ({ratio:.2g}x the source's)")
    if not (table["pair"] != "mean").any():
        ax.text(0.5, 0.5, "one frame: no pairs", transform=ax.transAxes, ha="center")
    ax.set(xlabel="frame (each point lies midway between the two frames of its pair)", ylabel="warp error",
           title="Warp error per frame pair (Lai et al. 2018; lower is steadier)")
    ax.set_ylim(bottom=0)
    _mark_chunks(ax, plan, cuts)
    _save(figure, output)
