# Validation of config and sheet, and the input functions every rule file uses.
import fcntl
import hashlib
import json
import math
import os
from pathlib import Path

import pandas as pd
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from painterly.settings import Settings
from painterly.extract import is_video

validate(config, schema="../schemas/config.schema.yaml")


def release_stale_locks():
    """Let a plain rerun resume after kill -9, which leaves Snakemake's directory lock behind.

    This run holds a kernel lock (freed by the OS however the process dies) for its whole
    life; whoever gets it knows no other run is alive in this directory, so any Snakemake
    lock files left here are stale. With another run alive, Snakemake's own lock still
    refuses the second one.
    """
    if not workflow.is_main_process:
        return
    Path(".snakemake").mkdir(exist_ok=True)
    handle = open(".snakemake/painterly-run.lock", "w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return
    RUN_LOCK.append(handle)
    for stale in Path(".snakemake/locks").glob("*.lock"):
        stale.unlink()


RUN_LOCK = []
release_stale_locks()

RESULTS = config["results"]
# Jobs run the engine (`python -m painterly`) from this checkout, so a conda env needs
# only its dependencies and a run never picks up another installed version of painterly.
os.environ.update(PYTHONPATH=str(Path(workflow.basedir) / "workflow"))
CHUNK = config["chunk_frames"]
TEXT_COLUMNS = {
    "name": str,
    "input": str,
    "styles": str,
    "style_blend": str,
    "preset": str,
}
# Sheet columns that override the row's preset, and the type each becomes.
SETTING_COLUMNS = {
    "size": int,
    "iterations": int,
    "content_weight": float,
    "style_weight": float,
    "tv_weight": float,
    "style_scale": float,
    "preserve_colors": bool,
    "seed": int,
}
# The settings a style targets file depends on (see painterly.style_targets).
TARGET_SETTINGS = (
    "weights",
    "pooling",
    "style_layers",
    "style_scale",
    "preserve_colors",
    "size",
    "pyramid_min_size",
    "style_blend",
)


def read_jobs(path):
    if not Path(path).is_file():
        raise WorkflowError(
            f"{path}: jobs sheet not found; set `jobs:` in config.yaml to a TSV file"
        )
    jobs = pd.read_csv(
        path, sep="\t", dtype=TEXT_COLUMNS, comment="#", skip_blank_lines=True
    )
    validate(jobs, schema="../schemas/jobs.schema.yaml")
    duplicated = jobs["name"][jobs["name"].duplicated()].tolist()
    if duplicated:
        raise WorkflowError(
            f"{path}: the name {duplicated[0]!r} is used by two rows; give each row its own name"
        )
    for row in jobs.itertuples():
        for file in [row.input, *split_list(row.styles)]:
            if not Path(file).is_file():
                raise WorkflowError(
                    f"{path}: row {row.name!r} names {file!r}, which does not exist; fix the path"
                )
        preset = getattr(row, "preset", None)
        preset = preset if isinstance(preset, str) else config["preset"]
        if preset not in config["presets"]:
            raise WorkflowError(
                f"{path}: row {row.name!r} asks for preset {preset!r}; config.yaml has {sorted(config['presets'])}"
            )
    return jobs.set_index("name", drop=False)


def split_list(text):
    return [part.strip() for part in str(text).split(",") if part.strip()]


JOBS = read_jobs(config["jobs"])


def row(name):
    return JOBS.loc[name]


def styles(name):
    return split_list(row(name)["styles"])


def cell(name, column):
    """A sheet cell, or None where the column is absent or the cell empty."""
    value = row(name).get(column)
    return None if value is None or pd.isna(value) else value


def settings(name):
    """The engine settings of a row: its preset, overridden by the row's own cells."""
    values = dict(config["presets"][cell(name, "preset") or config["preset"]])
    for column, kind in SETTING_COLUMNS.items():
        if cell(name, column) is not None:
            values[column] = kind(cell(name, column))
    if cell(name, "style_blend") is not None:
        values["style_blend"] = [
            float(w) for w in split_list(cell(name, "style_blend"))
        ]
    return Settings.from_dict(values).to_dict()


def settings_json(name):
    return json.dumps(settings(name), sort_keys=True)


def target_settings(name):
    return {key: settings(name)[key] for key in TARGET_SETTINGS}


def style_key(name):
    """Names a style targets file by everything it depends on, so rows share it when equal."""
    payload = json.dumps(
        {"styles": styles(name), **target_settings(name)}, sort_keys=True
    )
    stems = "+".join(Path(style).stem for style in styles(name))
    return f"{stems}-{hashlib.sha256(payload.encode()).hexdigest()[:10]}"


STYLE_SETS = {style_key(name): name for name in JOBS.index}


def style_targets_path(wildcards):
    return f"{RESULTS}/style_targets/{style_key(wildcards.name)}.pt"


def extraction_args(wildcards):
    args = [
        "--size",
        settings(wildcards.name)["size"],
        "--start",
        int(cell(wildcards.name, "start") or 0),
    ]
    if cell(wildcards.name, "end") is not None:
        args += ["--end", int(cell(wildcards.name, "end"))]
    fps = cell(wildcards.name, "fps") or config["extraction"]["fps"]
    if fps:
        args += ["--fps", fps]
    return [str(arg) for arg in args]


def frame_meta(name):
    """The extraction's metadata; asking for it makes Snakemake run the checkpoint first."""
    return json.loads(
        Path(checkpoints.extract_frames.get(name=name).output.meta).read_text()
    )


def chunk_ids(name):
    return [
        f"{i:04d}" for i in range(math.ceil(frame_meta(name)["frame_count"] / CHUNK))
    ]


def chunk_range(wildcards):
    first = int(wildcards.chunk) * CHUNK
    return first, min(CHUNK, frame_meta(wildcards.name)["frame_count"] - first)


def chunk_frame_files(wildcards):
    frames_dir = checkpoints.extract_frames.get(name=wildcards.name).output.frames
    first, count = chunk_range(wildcards)
    return [f"{frames_dir}/{i:06d}.png" for i in range(first, first + count)]


def chunk_flows(wildcards):
    """The chunk's optical flow directory in temporal mode; nothing in independent mode."""
    if settings(wildcards.name)["temporal"]:
        return [f"{RESULTS}/{wildcards.name}/flow/{wildcards.chunk}"]
    return []


def flow_args(wildcards):
    return [arg for path in chunk_flows(wildcards) for arg in ("--flows", path)]


def styled_chunks(wildcards):
    return expand(
        f"{RESULTS}/{wildcards.name}/styled/{{chunk}}", chunk=chunk_ids(wildcards.name)
    )


def preview_content(wildcards):
    if is_video(row(wildcards.name)["input"]):
        return f"{checkpoints.extract_frames.get(name=wildcards.name).output.frames}/000000.png"
    return row(wildcards.name)["input"]


def preview_stylized(wildcards):
    name = wildcards.name
    return (
        f"{RESULTS}/{name}/styled/0000"
        if is_video(row(name)["input"])
        else f"{RESULTS}/{name}/{name}.png"
    )


def final_outputs():
    outputs = []
    for name in JOBS.index:
        kind = "mp4" if is_video(row(name)["input"]) else "png"
        outputs += [f"{RESULTS}/{name}/{name}.{kind}", f"{RESULTS}/{name}/preview.jpg"]
        if kind == "mp4":
            outputs.append(f"{RESULTS}/{name}/warp_error.tsv")
    return outputs
