# The config and the jobs sheet, checked before any job runs, and each row's settings and
# style key (inputs.smk holds the input functions, run_lock.smk the run's lock).
import csv
import difflib
import json
import re
import shlex
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml
from PIL import Image
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from painterly.engine import settings as engine_settings
from painterly.errors import PainterlyError
from painterly.media.io import check_pixels, is_video, load_image
from painterly.engine.style_key import key_digest, targets_key


def check_config_keys(values, schema, where="config"):
    """Name a misspelt key inside any section, with the nearest known one (the schema
    alone would only say 'additional properties are not allowed')."""
    known = schema.get("properties", {})
    for key, value in values.items():
        if key not in known and schema.get("additionalProperties") is False:
            near = difflib.get_close_matches(key, known, n=1)
            hint = (
                f"did you mean {near[0]!r}?" if near else f"known: {', '.join(known)}"
            )
            raise WorkflowError(f"{where}: unknown key {key!r}; {hint}")
        if isinstance(value, dict) and key in known:
            check_config_keys(value, known[key], f"{where}.{key}")


check_config_keys(
    config,
    yaml.safe_load(
        (Path(workflow.basedir) / "workflow/schemas/config.schema.yaml").read_text()
    ),
)
validate(config, schema="../schemas/config.schema.yaml")

RESULTS = config["results"]
CHUNK = config["chunk_frames"]
SEAM = config["seam_frames"]
CHUNK_BORDERS = config["chunk_borders"]
# Jobs run the engine (`python -m painterly.jobs`, `painterly image`) from this checkout, so an env needs only its
# dependencies and a run never picks up another installed version of painterly.
# (Braces doubled twice: once for the f-string, once for Snakemake's formatting.)
shell.prefix(
    f"export PYTHONPATH={shlex.quote(str(Path(workflow.basedir) / 'workflow'))}${{{{PYTHONPATH:+:$PYTHONPATH}}}}; "
)
# The sheet's own columns; every other column names a setting (painterly.engine.settings) that
# overrides the row's preset.
SHEET_COLUMNS = ("name", "input", "styles", "preset", "start", "end", "fps")


def checked_presets():
    presets = {}
    for name, values in config["presets"].items():
        try:
            presets[name] = engine_settings.Settings.from_dict(values)
        except PainterlyError as error:
            raise WorkflowError(f"config: presets.{name}: {error}") from None
    if config["preset"] not in presets:
        raise WorkflowError(
            f"config: preset {config['preset']!r} is not among presets {sorted(presets)}"
        )
    return presets


PRESETS = checked_presets()


def split_styles(cell):
    """The style files of a cell, separated by commas; a file whose name holds a comma is
    the whole cell, or is written in double quotes ("a, b.jpg",c.jpg)."""
    if Path(cell.strip()).is_file():
        return [cell.strip()]
    parts = next(csv.reader([cell], skipinitialspace=True), [])
    return [part.strip() for part in parts if part.strip()]


def read_jobs(path):
    """The sheet as text cells (so '007' and 'a#b.mp4' stay what they say), checked."""
    if not Path(path).is_file():
        raise WorkflowError(
            f"{path}: jobs sheet not found; set `jobs:` in config.yaml to a TSV file"
        )
    try:
        jobs = pd.read_csv(
            path, sep="\t", dtype=str, keep_default_na=False, quoting=csv.QUOTE_NONE
        )
    except pd.errors.EmptyDataError:
        raise WorkflowError(
            f"{path}: the sheet is empty; write a header line (name, input, styles, tab-separated) and a row per video or image"
        ) from None
    if jobs.empty:
        raise WorkflowError(
            f"{path}: the sheet has a header but no rows; add a row per video or image"
        )
    for column in jobs.columns:
        if column not in SHEET_COLUMNS and column not in engine_settings.FIELDS:
            near = difflib.get_close_matches(
                column, [*SHEET_COLUMNS, *engine_settings.FIELDS], n=1
            )
            hint = f"did you mean {near[0]!r}?" if near else "remove it"
            raise WorkflowError(f"{path}: unknown column {column!r}; {hint}")
    for number, name in enumerate(jobs.get("name", []), start=2):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise WorkflowError(
                f"{path}: line {number}: the name {name!r} names the row's output folder, so it may hold only "
                "letters, digits, '_', '.' and '-', starting with a letter or digit; rename it"
            )
    validate(jobs, schema="../schemas/jobs.schema.yaml")
    duplicated = jobs["name"][jobs["name"].duplicated()].tolist()
    if duplicated:
        raise WorkflowError(
            f"{path}: the name {duplicated[0]!r} is used by two rows; give each row its own name"
        )
    for row in jobs.itertuples():
        for file in [row.input, *split_styles(row.styles)]:
            if not Path(file).is_file():
                raise WorkflowError(
                    f"{path}: row {row.name!r} names {file!r}, which does not exist; fix the path"
                )
        start, end = getattr(row, "start", ""), getattr(row, "end", "")
        if start and end and int(start) >= int(end):
            raise WorkflowError(
                f"{path}: row {row.name!r} starts at frame {start}, not before its end {end}; fix start or end"
            )
    return jobs.set_index("name", drop=False)


JOBS = read_jobs(config["jobs"])


def row_settings(name):
    """A row's engine settings: its preset, overridden by the row's own non-empty cells."""
    cells = JOBS.loc[name]
    preset = cells.get("preset") or config["preset"]
    if preset not in PRESETS:
        raise WorkflowError(
            f"{config['jobs']}: row {name!r} asks for preset {preset!r}; config.yaml has {sorted(PRESETS)}"
        )
    try:
        overrides = {
            column: engine_settings.parse(column, cells[column])
            for column in JOBS.columns
            if column in engine_settings.FIELDS and cells[column] != ""
        }
        return PRESETS[preset].replace(**overrides)
    except PainterlyError as error:
        raise WorkflowError(f"{config['jobs']}: row {name!r}: {error}") from None


SETTINGS = {name: row_settings(name) for name in JOBS.index}
VIDEO = {name: is_video(JOBS.loc[name, "input"]) for name in JOBS.index}
# Wildcard constraints matching exactly the video rows' and the image rows' names (nothing
# if there are none): stylize_image makes an image's `{name}.json`, provenance a video's.
VIDEO_NAMES, IMAGE_NAMES = (
    "|".join(re.escape(name) for name in JOBS.index if VIDEO[name] == kind) or "(?!)"
    for kind in (True, False)
)


def check_image_rows():
    """Refuse an oversized photo before any job runs (its header only)."""
    for name in JOBS.index:
        if not VIDEO[name]:
            with Image.open(JOBS.loc[name, "input"]) as photo:
                size = photo.size
            try:
                check_pixels(
                    JOBS.loc[name, "input"], size, SETTINGS[name].max_input_pixels
                )
            except PainterlyError as error:
                raise WorkflowError(
                    f"{config['jobs']}: row {name!r}: {error}"
                ) from None


check_image_rows()


def styles(name):
    return split_styles(JOBS.loc[name, "styles"])


@lru_cache
def style_image(path, max_pixels):
    try:
        return load_image(path, max_pixels)
    except PainterlyError as error:
        raise WorkflowError(str(error)) from None


def style_key(name):
    """Names a style targets file by everything it depends on, so equal rows share it and a
    changed style image, blend or target setting makes a new one."""
    try:
        cap = SETTINGS[name].max_input_pixels
        key = targets_key(
            SETTINGS[name], [style_image(path, cap) for path in styles(name)]
        )
    except PainterlyError as error:
        raise WorkflowError(f"{config['jobs']}: row {name!r}: {error}") from None
    stems = "+".join(Path(style).stem for style in styles(name))
    return f"{stems}-{key_digest(key)}"


STYLE_SETS = {style_key(name): name for name in JOBS.index}
