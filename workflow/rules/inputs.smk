# Input functions: what each rule's job reads, from the sheet and the video's chunk plan.
import json
import os
from functools import lru_cache

from painterly.video.shots import read_chunk_plan


def style_targets_path(wildcards):
    return f"{RESULTS}/style_targets/{style_key(wildcards.name)}.pt"


def settings_json(wildcards):
    return json.dumps(SETTINGS[wildcards.name].to_dict(), sort_keys=True)


def extraction_args(wildcards):
    """The frames of the video a row uses (painterly.media.extract.scan_video's arguments)."""
    cells = JOBS.loc[wildcards.name]
    args = ["--size", SETTINGS[wildcards.name].size]
    for column in ("start", "end", "fps"):
        if cells.get(column):
            args += [f"--{column}", cells[column]]
    if not cells.get("fps") and config["extraction"]["fps"]:
        args += ["--fps", config["extraction"]["fps"]]
    return [str(arg) for arg in args]


def chunk_plan(name):
    """The video's chunks (painterly.video.shots): borders at cuts, long shots split evenly."""
    path = checkpoints.plan_chunks.get(name=name).output.plan
    return plan_file_chunks(path, os.stat(path).st_mtime_ns)


@lru_cache
def plan_file_chunks(path, mtime_ns):
    """Read once per version of the file: every input function of every chunk asks."""
    return read_chunk_plan(path)[0]


def chunk_ids(name):
    return [f"{i:04d}" for i in range(len(chunk_plan(name)))]


def chunk_of(wildcards):
    return chunk_plan(wildcards.name)[int(wildcards.chunk)]


def chunk_source_path(name, chunk):
    """The chunk's record: where its frames (lead-in first) are in the video, their digest."""
    chunk_plan(name)  # written by the plan's checkpoint
    return f"{RESULTS}/{name}/chunk_sources/{chunk}.json"


def chunk_source(wildcards):
    return chunk_source_path(wildcards.name, wildcards.chunk)


def chunk_sources(wildcards):
    return expand(
        f"{RESULTS}/{wildcards.name}/chunk_sources/{{chunk}}.json",
        chunk=chunk_ids(wildcards.name),
    )


def previous_chunk(wildcards):
    return f"{RESULTS}/{wildcards.name}/styled/{int(wildcards.chunk) - 1:04d}"


def lead_in_frames(wildcards):
    """Frames before a chunk inside a shot that its chain starts with: the run-up the seam
    fades over, or (continue) the earlier chunk's results it is held to."""
    if CHUNK_BORDERS == "fade":
        return SEAM
    return SETTINGS[wildcards.name].temporal_reach


def continued_chunks(wildcards):
    """The chunks whose chain this one continues: those its lead-in reaches into."""
    this = chunk_of(wildcards)
    return [
        f"{RESULTS}/{wildcards.name}/styled/{i:04d}"
        for i, chunk in enumerate(chunk_plan(wildcards.name))
        if this.continues and chunk.first < this.first and chunk.end > this.chain_first
    ]


def seams(wildcards):
    """A seam for every chunk with a lead-in to fade (a border inside a shot)."""
    plan = chunk_plan(wildcards.name)
    return [
        f"{RESULTS}/{wildcards.name}/seams/{i:04d}.mkv"
        for i, chunk in enumerate(plan)
        if chunk.run_up
    ]


def styled_chunks(wildcards):
    return expand(
        f"{RESULTS}/{wildcards.name}/styled/{{chunk}}", chunk=chunk_ids(wildcards.name)
    )


def chunk_benchmarks(wildcards):
    return expand(
        f"{RESULTS}/benchmarks/{wildcards.name}/stylize_frames/{{chunk}}.tsv",
        chunk=chunk_ids(wildcards.name),
    )


def video_workflow_json(wildcards):
    """The workflow's settings beyond the row's Settings that shaped a video."""
    return json.dumps(
        {
            "extraction": extraction_args(wildcards),
            "chunk_frames": CHUNK,
            "seam_frames": SEAM,
            "chunk_borders": CHUNK_BORDERS,
            "cut_threshold": config["cut_threshold"],
        },
        sort_keys=True,
    )


def row_styles(wildcards):
    return styles(wildcards.name)


def is_video_row(wildcards):
    return VIDEO[wildcards.name]


def first_chunk_source(wildcards):
    return chunk_source_path(wildcards.name, "0000")


ROW_INPUT = lookup(query="name == '{name}'", within=JOBS, cols="input")


def final_outputs():
    outputs = []
    for name in JOBS.index:
        kind = "mp4" if VIDEO[name] else "png"
        outputs += [f"{RESULTS}/{name}/{name}.{kind}", f"{RESULTS}/{name}/preview.jpg"]
        outputs.append(f"{RESULTS}/{name}/{name}.json")
        if VIDEO[name]:
            outputs.append(f"{RESULTS}/{name}/warp_error.tsv")
            outputs += [
                f"{RESULTS}/{name}/report/{part}"
                for part in ("chunk_times.html", "losses.svg", "warp_error.svg")
            ]
    return outputs
