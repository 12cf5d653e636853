"""The ``painterly`` command: outputs, style target files, and every bad input."""

import os
import re
import subprocess

import numpy as np
import pytest
import yaml
from PIL import Image

from painterly.cli import main
from painterly.engine.settings import Settings

from .conftest import CONTENT, REPO, STYLE
from .media import write_clip

TINY = ["--size", "48", "--pyramid-min-size", "24", "--iterations", "8", "--device", "cpu", "--quiet"]


def run(*args):
    return main([str(a) for a in args])


def option_help(command: str) -> dict[str, str]:
    """``painterly COMMAND --help``: each option's help, whitespace collapsed, by its long flag."""
    env = {**os.environ, "COLUMNS": "250", "PAINTERLY_WORKFLOW": str(REPO)}
    text = subprocess.run(["painterly", command, "--help"], capture_output=True, text=True, check=True, env=env).stdout
    blocks = [" ".join(block.split()) for block in re.split(r"\n {2}(?=-)", text)[1:]]
    return {re.search(r"--[\w-]+", block).group(0): block for block in blocks}


def defaults_shown(options: dict[str, str]) -> list[str]:
    return [default for text in options.values() for default in re.findall(r"\(default: ([^)]*)\)", text)]


def test_image_help_shows_the_engine_defaults():
    options = option_help("image")
    assert options["--size"].endswith(f"(default: {Settings().size})")
    assert options["--frame-iterations"].endswith(f"(default: {Settings().frame_iterations})")
    assert options["--optimizer"].endswith("(default: lbfgs)") and "--style-blend" in options
    assert "(default" not in options["--output"] and "None" not in defaults_shown(options)
    assert all(text.count("(default:") <= 1 for text in options.values())


def test_video_help_shows_the_preset_a_video_run_takes():
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    name = config["preset"]
    options = option_help("video")
    assert options["--preset"].endswith(f"(default: `{name}`, config.yaml's `preset`)")
    for setting in ("size", "iterations", "frame_iterations", "pyramid_min_size"):
        flag = "--" + setting.replace("_", "-")
        assert options[flag].endswith(f"(default: {config['presets'][name][setting]}, preset `{name}`)"), options[flag]
    assert options["--optimizer"].endswith("(default: lbfgs)")  # not in the preset: the engine's
    assert "(default" not in options["--output"] and "None" not in defaults_shown(options)
    assert all(text.count("(default:") <= 1 for text in options.values())


def test_painterly_offers_people_their_commands_and_the_rules_run_jobs_that_exist():
    from painterly.jobs import commands as jobs
    from painterly.cli import build_parser

    def commands(parser) -> set[str]:
        return set(parser._subparsers._group_actions[0].choices)

    assert commands(build_parser()) == {"image", "video", "targets"}
    rules = "".join(path.read_text() for path in (REPO / "workflow/rules").glob("*.smk"))
    asked = set(re.findall(r"python -m painterly\.jobs ([\w-]+)", rules))
    assert asked and asked == commands(jobs.build_parser())
    assert set(re.findall(r"python -m painterly ([\w-]+)", rules)) <= commands(build_parser())


def test_image_writes_output_of_requested_size(tmp_path):
    out = tmp_path / "out.png"
    assert run("image", CONTENT, STYLE, "-o", out, *TINY) == 0
    with Image.open(out) as image:
        assert max(image.size) == 48 and image.mode == "RGB"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json", "out.png"]  # the image and its provenance


def test_the_device_used_is_logged_even_when_quiet(tmp_path, capsys):
    assert run("image", CONTENT, STYLE, "-o", tmp_path / "out.png", *TINY) == 0
    assert capsys.readouterr().err == "device: cpu\n"
    assert "(`device: cpu`)" in (REPO / "README.md").read_text()  # the README quotes the log's line


def test_a_run_that_early_stop_ends_says_so(tmp_path, capsys):
    assert run("image", CONTENT, STYLE, "-o", tmp_path / "out.png", *TINY, "--iterations", "60", "--tolerance", "0.5") == 0
    last = capsys.readouterr().err.splitlines()[-1]
    stopped = re.fullmatch(r"stopped early at (\d+) of 60 iterations: the loss fell by less than tolerance \(0\.5\) "
                           r"over 10 iterations", last)
    assert stopped and int(stopped.group(1)) < 60, last


def test_same_seed_gives_identical_bytes(tmp_path):
    for name in ("a.png", "b.png"):
        assert run("image", CONTENT, STYLE, "-o", tmp_path / name, "--init", "noise", "--seed", "7", *TINY) == 0
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_saved_targets_give_the_same_result(tmp_path):
    targets = tmp_path / "starry.pt"
    assert run("targets", STYLE, "-o", targets, *TINY[:4]) == 0
    assert run("image", CONTENT, STYLE, "-o", tmp_path / "direct.png", *TINY) == 0
    assert run("image", CONTENT, STYLE, "-o", tmp_path / "reused.png", "--targets", targets, *TINY) == 0
    assert (tmp_path / "direct.png").read_bytes() == (tmp_path / "reused.png").read_bytes()


def test_targets_made_for_other_settings_are_refused(tmp_path, capsys):
    targets = tmp_path / "starry.pt"
    assert run("targets", STYLE, "-o", targets, *TINY[:4]) == 0
    assert run("image", CONTENT, STYLE, "-o", tmp_path / "out.png", "--targets", targets, *TINY[:2], "--size", "96") == 2
    assert "made with size=48, this run uses 96" in capsys.readouterr().err
    assert run("image", CONTENT, STYLE, "-o", tmp_path / "out.png", "--targets", targets, *TINY, "--pooling", "avg") == 2
    assert "made with pooling='max'" in capsys.readouterr().err
    assert not (tmp_path / "out.png").exists()


def test_multiple_styles_blend(tmp_path, capsys):
    out = tmp_path / "out.png"
    assert run("image", CONTENT, STYLE, CONTENT, "--style-blend", "3,1", "-o", out, *TINY) == 0
    assert out.exists()
    assert run("image", CONTENT, STYLE, CONTENT, "--style-blend", "1", "-o", tmp_path / "x.png", *TINY) == 2
    assert "style_blend needs 2 non-negative weights (one per style), got [1.0]" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["missing", "empty", "not_image"])
@pytest.mark.parametrize("role", ["content", "style"])
def test_bad_input_names_the_file_and_writes_nothing(tmp_path, capsys, kind, role):
    bad = tmp_path / f"{kind}.jpg"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "not_image":
        bad.write_text("hello")
    content, style = (bad, STYLE) if role == "content" else (CONTENT, bad)
    out = tmp_path / "out.png"
    assert run("image", content, style, "-o", out, *TINY) == 2
    err = capsys.readouterr().err
    assert err.startswith("painterly: error: ") and str(bad) in err and err.count("\n") == 1
    assert not out.exists()


def test_diverging_loss_is_reported_and_writes_nothing(tmp_path, capsys):
    # Finite in Python, infinite once the loss is computed in float32.
    out = tmp_path / "out.png"
    assert run("image", CONTENT, STYLE, "-o", out, *TINY, "--style-weight", "1e39") == 2
    err = capsys.readouterr().err
    assert "the loss became" in err and "24x" in err and "lower --style-weight" in err
    assert not out.exists()


@pytest.mark.parametrize("case, message", [
    ("still", "is a still image, not a video; stylize it with `painterly image`"),
    ("avi", "cannot write .avi; end the name in .mp4, .mov, .webm, .gif"),
    ("directory", "is a directory; give an output file name ending in .mp4, .mov, .webm, .gif"),
    ("not_media", "not a video or image painterly can read"),
])
def test_video_refuses_bad_input_or_output_before_any_work(tmp_path, capsys, case, message):
    source, out = tmp_path / "clip.mkv", tmp_path / "out.mp4"
    write_clip(source, frames=2)
    if case == "still":
        source = tmp_path / "photo.mp4"
        Image.open(CONTENT).save(source, format="PNG")
    elif case == "avi":
        out = tmp_path / "out.avi"
    elif case == "directory":
        out = tmp_path / "folder"
        out.mkdir()
    elif case == "not_media":
        source = tmp_path / "noise.mp4"
        source.write_bytes(np.random.default_rng(3).bytes(4096))  # fixed bytes: each draw probes alike
    before = set(tmp_path.iterdir())
    assert run("video", source, STYLE, "-o", out) == 2
    err = capsys.readouterr().err
    assert err.startswith("painterly: error: ") and message in err and err.count("\n") == 1
    assert set(tmp_path.iterdir()) == before  # no work directory, no output


@pytest.mark.parametrize("output, message", [
    ("folder", "is a directory; give an output file name"),
    ("out.xyz", "unknown image extension '.xyz'; end the name in .png or .jpg"),
    ("same", "is the input photo; write the result to another file"),
])
def test_bad_outputs_are_refused_before_any_work(tmp_path, capsys, output, message):
    (tmp_path / "folder").mkdir()
    photo = tmp_path / "photo.png"
    Image.open(CONTENT).save(photo)
    target = photo if output == "same" else tmp_path / output
    before = photo.read_bytes()
    assert run("image", photo, STYLE, "-o", target, *TINY, "--iterations", "100000") == 2  # would take hours
    assert message in capsys.readouterr().err and photo.read_bytes() == before


def test_a_huge_image_is_refused_from_its_header(tmp_path, capsys):
    huge = tmp_path / "huge.png"
    Image.new("1", (20000, 15000)).save(huge)  # 300 megapixels, a few kB on disk
    assert run("image", huge, STYLE, "-o", tmp_path / "out.png", *TINY) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"painterly: error: {huge}: 20000x15000 is 300 megapixels, over the cap of 64; downscale it, "
                   "or raise max_input_pixels if you have the memory")



def test_out_of_memory_outside_the_optimization_is_one_line(tmp_path, capsys, monkeypatch):
    """An injected CUDA out-of-memory while the style targets are computed (a huge size)."""
    import torch

    import painterly.engine.stylize

    def exhausted(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 90.00 GiB")

    monkeypatch.setattr(painterly.engine.stylize, "compute_style_targets", exhausted)
    assert run("image", CONTENT, STYLE, "-o", tmp_path / "out.png", *TINY) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == ("painterly: error: out of memory (CUDA out of memory. Tried to allocate 90.00 GiB); "
                       "lower --size or use --precision bf16")
