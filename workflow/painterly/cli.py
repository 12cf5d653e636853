"""Command line: ``painterly image``, ``video`` and ``targets``, the commands people type.

The workflow's rules run their jobs through painterly.jobs."""

from __future__ import annotations

import argparse
import functools
import json
import sys
import warnings

from .engine import settings
from .engine.settings import Settings
from .errors import ERROR_PREFIX, PainterlyError

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

    from .engine.device import describe_device
    from .engine.style_targets import StyleTargets
    from .engine.stylize import EARLY_STOP_WINDOW, Stylizer
    from .jobs.provenance import sidecar_path, write_sidecar
    from .media.io import load_image, save_image

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
    from .engine.stylize import Stylizer
    from .media.io import load_image

    chosen = settings_from_args(args)
    styles = [load_image(path, chosen.max_input_pixels) for path in args.styles]
    Stylizer(chosen).targets(styles, args.styles).save(args.output)


def _run_video(args) -> None:
    from .run import run_video

    overrides = {k: list(v) if isinstance(v, tuple) else v for k, v in given_settings(args).items()}
    run_video(args.input, args.styles, args.output, overrides, cores=args.cores, preset=args.preset)


def build_parser() -> argparse.ArgumentParser:
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

    return parser


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    """Run a command of ``parser`` (the user's commands unless given): a PainterlyError is
    one line on stderr and exit status 2, never a traceback."""
    args = (parser or build_parser()).parse_args(argv)
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
