"""Command line: ``painterly image``/``video`` for people, the rest for the workflow's rules."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import warnings

from . import settings
from .errors import ERROR_PREFIX, PainterlyError
from .settings import Settings

DEFAULTS = Settings()
TARGET_FIELDS = [name for name, item in settings.FIELDS.items() if item.metadata["targets"]]


def _text_to(name: str):
    def convert(text: str):
        try:
            return settings.parse(name, text)
        except PainterlyError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = name  # argparse names the type in its error
    return convert


def shown(value) -> str:
    """A setting's value as its flag takes it."""
    if value is None:
        return "none"
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def add_setting_flags(parser, names, description: str | None = None) -> None:
    """A flag per Settings field in ``names``, its type, choices and help read off the field
    (its default added by the parser's formatter); absent from the namespace unless given,
    so a --settings JSON or a preset shows through."""
    group = parser.add_argument_group("settings", description)
    for name in names:
        item = settings.FIELDS[name]
        flag, help = "--" + name.replace("_", "-"), item.metadata["help"]
        if settings.kind(name)[0] is bool:
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS, help=help,
                               action=argparse.BooleanOptionalAction)
        else:
            choices = item.metadata["choices"]
            metavar = "{" + ",".join(choices) + "}" if choices else name.upper()
            group.add_argument(flag, dest=name, default=argparse.SUPPRESS, help=help, type=_text_to(name),
                               metavar=metavar)
    group.add_argument("--settings", default=None, help="JSON object of settings, under any flags given")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's help ends in the default it will take: a setting's from the engine, and
    none for a required option or one whose default is None (not given)."""

    def _get_help_string(self, action):
        if action.dest in settings.FIELDS and action.default is argparse.SUPPRESS:
            return f"{action.help} (default: {self.setting_default(action.dest)})"
        if action.required or action.default is None:
            return action.help
        return super()._get_help_string(action)

    def setting_default(self, name: str) -> str:
        return shown(getattr(DEFAULTS, name))


@functools.lru_cache(maxsize=1)
def video_preset() -> tuple[str, dict] | None:
    """config.yaml's `preset`: its name and its own keys; None where no workflow is found."""
    import yaml

    from .run import workflow_dir

    try:
        config = yaml.safe_load((workflow_dir() / "config.yaml").read_text())
    except PainterlyError:
        return None
    return config["preset"], config["presets"][config["preset"]]


class VideoHelpFormatter(HelpFormatter):
    """A video run takes config.yaml's preset, not the engine's defaults: the help shows its
    values. Read only when help is asked for (finding the workflow costs half a second)."""

    def _get_help_string(self, action):
        if action.dest == "preset":
            preset = video_preset()
            return f"{action.help} (default: {f'`{preset[0]}`, ' if preset else ''}config.yaml's `preset`)"
        return super()._get_help_string(action)

    def setting_default(self, name: str) -> str:
        preset = video_preset()
        if preset is None:
            return "config.yaml's preset; no workflow found"
        value = shown(getattr(Settings.from_dict(preset[1]), name))
        return f"{value}, preset `{preset[0]}`" if name in preset[1] else value


def given_settings(args: argparse.Namespace) -> dict:
    """The settings named on the command line: --settings JSON, then the flags over it."""
    base = json.loads(args.settings) if getattr(args, "settings", None) else {}
    given = {name: getattr(args, name) for name in DEFAULTS.to_dict() if hasattr(args, name)}
    return {**base, **given}


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_dict(given_settings(args))


def _run_image(args) -> None:
    import time

    from .device import describe_device
    from .io import load_image, save_image
    from .provenance import sidecar_path, write_sidecar
    from .style_targets import StyleTargets
    from .stylize import EARLY_STOP_WINDOW, Stylizer

    started = time.monotonic()
    chosen = settings_from_args(args)
    check_image_output(args.output, args.content)
    content = load_image(args.content, chosen.max_input_pixels)
    styles = [load_image(path, chosen.max_input_pixels) for path in args.styles]
    stylizer = Stylizer(chosen)
    device = describe_device(stylizer.device)
    print(f"device: {device}", file=sys.stderr, flush=True)
    if args.targets:
        targets = StyleTargets.load(args.targets)
        targets.check(stylizer.settings, styles)
    else:
        targets = stylizer.targets(styles, args.styles)
    result = stylizer.stylize(content, targets, progress=not args.quiet)
    save_image(result.image, args.output)
    # The bar leaves no trace of why a run ended short of its budget: say so.
    ran, budget = sum(len(level) for level in result.losses), sum(chosen.iteration_schedule())
    if ran < budget:
        print(f"stopped early at {ran} of {budget} iterations: the loss fell by less than tolerance "
              f"({chosen.tolerance:g}) over {EARLY_STOP_WINDOW} iterations", file=sys.stderr, flush=True)
    write_sidecar(sidecar_path(args.output), source=args.content, styles=args.styles,
                  settings={name: value for name, value in stylizer.settings.to_dict().items()
                            if name not in settings.VIDEO_ONLY},
                  device=device, seconds=time.monotonic() - started)


def check_image_output(output, content) -> None:
    """Refuse, before any work, an output that cannot be written or would overwrite the input."""
    from pathlib import Path

    from PIL import Image

    output = Path(output)
    if output.is_dir():
        raise PainterlyError(f"{output}: is a directory; give an output file name such as {output / 'out.png'}")
    if Image.registered_extensions().get(output.suffix.lower()) is None:
        raise PainterlyError(f"{output}: unknown image extension {output.suffix!r}; end the name in .png or .jpg")
    if output.exists() and output.resolve() == Path(content).resolve():
        raise PainterlyError(f"{output}: is the input photo; write the result to another file")


def _run_targets(args) -> None:
    from .io import load_image
    from .stylize import Stylizer

    chosen = settings_from_args(args)
    styles = [load_image(path, chosen.max_input_pixels) for path in args.styles]
    Stylizer(chosen).targets(styles, args.styles).save(args.output)


def _run_video(args) -> None:
    from .run import run_video

    overrides = {k: list(v) if isinstance(v, tuple) else v for k, v in given_settings(args).items()}
    run_video(args.input, args.styles, args.output, overrides, cores=args.cores, preset=args.preset)


def _run_extract_frames(args) -> None:
    from .extract import extract_frames

    extract_frames(args.video, args.frames_dir, args.meta, args.size, args.fps, args.start, args.end)


def _run_stylize_frames(args) -> None:
    import torch

    from .chunk import stylize_frames

    torch.set_num_threads(args.threads)
    stylize_frames(args.frames, args.targets, args.output, settings_from_args(args), not args.quiet, args.lead_in, args.seam_frames, args.compile)


def _run_warp_error(args) -> None:
    from .metrics import write_warp_error_table

    from .seams import final_frames

    write_warp_error_table(args.frames_dir, final_frames(args.stylized, args.seams), args.output)


def _run_plan_chunks(args) -> None:
    from .shots import plan_video

    plan_video(args.frames_dir, args.threshold, args.chunk_frames, args.seam_frames, args.output)


def _run_seam(args) -> None:
    from .seams import cross_fade

    cross_fade(args.earlier, args.later, args.output)


def _run_encode(args) -> None:
    from .encode import encode_video
    from .seams import final_frames

    encode_video(final_frames(args.chunks, args.seams), args.meta, args.output, args.audio)


def _run_preview(args) -> None:
    from .preview import side_by_side

    side_by_side(args.content, args.stylized, args.output)


def _run_provenance(args) -> None:
    from .provenance import write_video_sidecar

    write_video_sidecar(args.output, source=args.input, styles=args.styles,
                        settings=Settings.from_dict(json.loads(args.settings)).to_dict(), chunk_dirs=args.chunks,
                        benchmarks=args.benchmarks, workflow=json.loads(args.workflow))


def _plan(args):
    from .shots import read_chunk_plan

    return read_chunk_plan(args.plan)


def _run_chunk_times(args) -> None:
    from .report import chunk_times

    chunk_times(args.benchmarks, args.chunks, _plan(args)[0], args.output)


def _run_plot_losses(args) -> None:
    from .report import plot_losses

    plot_losses(args.chunks, *_plan(args), args.output)


def _run_plot_warp_error(args) -> None:
    from .report import plot_warp_error

    plot_warp_error(args.table, *_plan(args), args.output)


def _add_plan_arguments(parser) -> None:
    parser.add_argument("--plan", required=True, help="the video's chunk_plan.json (plan-chunks), to mark its chunks")


def build_parser() -> argparse.ArgumentParser:
    from .seams import SEAM_FRAMES

    parser = argparse.ArgumentParser(prog="painterly", description="Neural style transfer (Gatys et al.) on VGG-19.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    formatter = HelpFormatter

    image = commands.add_parser("image", help="stylize one image", formatter_class=formatter)
    image.add_argument("content", help="the photo to repaint")
    image.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    image.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    image.add_argument("--targets", help="reuse a style targets file from `painterly targets`")
    add_setting_flags(image, settings.FIELDS)
    image.add_argument("--quiet", action="store_true", help="no progress bar")
    image.set_defaults(run=_run_image)

    video = commands.add_parser("video", help="stylize one video through the workflow",
                                formatter_class=VideoHelpFormatter)
    video.add_argument("input", help="the video to repaint")
    video.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    video.add_argument("-o", "--output", required=True, help="output .mp4 (H.264), .mov (ProRes), .webm (VP9) or .gif")
    video.add_argument("--preset", default=None, help="the preset of config.yaml to run")
    video.add_argument("--cores", type=int, default=4, help="cores Snakemake may use")
    add_setting_flags(video, settings.FIELDS, "defaults: config.yaml's preset, the engine's where it sets none")
    video.set_defaults(run=_run_video)

    targets = commands.add_parser("targets", help="precompute the style Gram targets", formatter_class=formatter)
    targets.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    targets.add_argument("-o", "--output", required=True, help="targets file to write (.pt)")
    add_setting_flags(targets, [*TARGET_FIELDS, "device", "precision"])
    targets.set_defaults(run=_run_targets)

    extract = commands.add_parser("extract-frames", help="(workflow) decode a video into PNG frames", formatter_class=formatter)
    extract.add_argument("video")
    extract.add_argument("--frames-dir", required=True)
    extract.add_argument("--meta", required=True, help="JSON metadata file to write")
    extract.add_argument("--size", type=int, required=True, help="long side of the frames")
    extract.add_argument("--fps", type=float, default=None, help="subsample to this rate")
    extract.add_argument("--start", type=int, default=0, help="first source frame")
    extract.add_argument("--end", type=int, default=None, help="source frame to stop before")
    extract.set_defaults(run=_run_extract_frames)

    chunk = commands.add_parser("stylize-frames", help="(workflow) stylize a run of frames in one process", formatter_class=formatter)
    chunk.add_argument("frames", nargs="+", help="the chunk's consecutive frames, in order")
    chunk.add_argument("--lead-in", type=int, default=0, help="the first N frames are a run-up, written to lead-in/")
    chunk.add_argument("--seam-frames", type=int, default=SEAM_FRAMES,
                       help="config.yaml's seam_frames: the lead-in of each sub-chain after the first (sub_chains)")
    chunk.add_argument("--targets", required=True)
    chunk.add_argument("-o", "--output", required=True, help="directory to write")
    chunk.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    chunk.add_argument("--settings", default=None, help="JSON object of settings")
    chunk.add_argument("--compile", action="store_true",
                       help="torch.compile the objective: later frames ~1.3x faster on a GPU, minutes to compile")
    chunk.add_argument("--quiet", action="store_true")
    chunk.set_defaults(run=_run_stylize_frames)

    metric = commands.add_parser("warp-error", help="(workflow) temporal consistency of a stylized video", formatter_class=formatter)
    metric.add_argument("frames_dir", help="the input frames")
    metric.add_argument("stylized", nargs="+", help="the chunks' directories of stylized frames")
    metric.add_argument("--seams", nargs="*", default=[], help="the seams' directories of cross-faded frames")
    metric.add_argument("-o", "--output", required=True, help="TSV table to write")
    metric.set_defaults(run=_run_warp_error)

    plan = commands.add_parser("plan-chunks", help="(workflow) a video's cuts and the chunks around them",
                               formatter_class=formatter)
    plan.add_argument("frames_dir")
    plan.add_argument("--threshold", type=float, required=True, help="a cut where fewer pixels than this are explained")
    plan.add_argument("--chunk-frames", type=int, required=True, help="config.yaml's chunk_frames")
    plan.add_argument("--seam-frames", type=int, required=True, help="config.yaml's seam_frames")
    plan.add_argument("-o", "--output", required=True, help="JSON file to write")
    plan.set_defaults(run=_run_plan_chunks)

    seam = commands.add_parser("seam", help="(workflow) cross-fade a chunk's lead-in into the chunk before", formatter_class=formatter)
    seam.add_argument("earlier", help="the earlier chunk's directory")
    seam.add_argument("later", help="the later chunk's directory (with lead-in/)")
    seam.add_argument("-o", "--output", required=True, help="directory to write")
    seam.set_defaults(run=_run_seam)

    encode = commands.add_parser("encode", help="(workflow) encode stylized frames to a video", formatter_class=formatter)
    encode.add_argument("chunks", nargs="+", help="the chunks' directories of stylized frames")
    encode.add_argument("--seams", nargs="*", default=[], help="the seams' directories of cross-faded frames")
    encode.add_argument("--meta", required=True)
    encode.add_argument("--audio", default=None, help="source whose audio to mux back")
    encode.add_argument("-o", "--output", required=True, help="video to write; its suffix (.mp4, .mov, .webm, .gif) picks the format")
    encode.set_defaults(run=_run_encode)

    preview = commands.add_parser("preview", help="(workflow) side-by-side still", formatter_class=formatter)
    preview.add_argument("content")
    preview.add_argument("stylized")
    preview.add_argument("-o", "--output", required=True)
    preview.set_defaults(run=_run_preview)

    record = commands.add_parser("provenance", help="(workflow) a stylized video's provenance sidecar",
                                 formatter_class=formatter)
    record.add_argument("input", help="the source video")
    record.add_argument("styles", nargs="+", metavar="style", help="the style images")
    record.add_argument("--settings", required=True, help="JSON object of the row's settings")
    record.add_argument("--chunks", nargs="+", required=True, help="the chunks' directories of stylized frames")
    record.add_argument("--benchmarks", nargs="+", required=True, help="the stylize jobs' benchmark files")
    record.add_argument("--workflow", required=True, help="JSON object of the workflow settings that shaped the video")
    record.add_argument("-o", "--output", required=True, help="JSON file to write")
    record.set_defaults(run=_run_provenance)

    times = commands.add_parser("chunk-times", help="(workflow) table of a video's stylize jobs",
                                formatter_class=formatter)
    times.add_argument("--benchmarks", nargs="+", required=True, help="the stylize jobs' benchmark files, in order")
    times.add_argument("--chunks", nargs="+", required=True, help="the chunks' directories, in the same order")
    _add_plan_arguments(times)
    times.add_argument("-o", "--output", required=True, help="HTML file to write")
    times.set_defaults(run=_run_chunk_times)

    losses = commands.add_parser("plot-losses", help="(workflow) plot a video's per-frame loss curves",
                                 formatter_class=formatter)
    losses.add_argument("--chunks", nargs="+", required=True, help="the chunks' directories, in order")
    _add_plan_arguments(losses)
    losses.add_argument("-o", "--output", required=True, help="plot to write (.svg, .png)")
    losses.set_defaults(run=_run_plot_losses)

    warp = commands.add_parser("plot-warp-error", help="(workflow) plot a video's warp error per frame pair",
                               formatter_class=formatter)
    warp.add_argument("table", help="the video's warp_error.tsv")
    _add_plan_arguments(warp)
    warp.add_argument("-o", "--output", required=True, help="plot to write (.svg, .png)")
    warp.set_defaults(run=_run_plot_warp_error)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.formatwarning = lambda message, category, *rest: f"painterly: warning: {message}\n"
    try:
        args.run(args)
    except PainterlyError as error:
        print(f"{ERROR_PREFIX}{error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("painterly: interrupted; no output written", file=sys.stderr)
        return 130
    except RuntimeError as error:
        # The engine turns an out-of-memory in the optimization into a PainterlyError; one
        # elsewhere (style targets at a huge size) still deserves one line, not a traceback.
        if "out of memory" not in str(error):
            raise
        print(f"{ERROR_PREFIX}out of memory ({str(error).splitlines()[0][:120]}); lower --size or use "
              "--precision bf16", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
