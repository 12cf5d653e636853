"""Command line: ``painterly image``/``video`` for people, the rest for the workflow's rules."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

from .errors import PainterlyError
from .settings import Settings

DEFAULTS = Settings()


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of numbers") from None


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split(","))


def _setting(parser, name: str, help: str, **kwargs) -> None:
    """A flag for Settings field ``name``: absent unless given, its default shown from Settings."""
    default = getattr(DEFAULTS, name)
    shown = ",".join(default) if isinstance(default, tuple) else default
    flag = "--" + name.replace("_", "-")
    parser.add_argument(flag, dest=name, default=argparse.SUPPRESS, help=f"{help} (default: {shown})", **kwargs)


def _add_style_settings(parser) -> None:
    _setting(parser, "size", "long side of the output in pixels", type=int)
    _setting(parser, "style_scale", "style image size relative to the content", type=float)
    _setting(parser, "style_blend", "blend weights of several styles; None: equal", type=_floats, metavar="W1,W2,...")
    _setting(parser, "preserve_colors", "transfer luminance only; keep the content's colours", action="store_const", const=True)
    _setting(parser, "weights", "VGG-19 weights: caffe (offline), torchvision (downloads once), or a .pth file")
    _setting(parser, "pooling", "VGG pooling layers", choices=("max", "avg"))
    _setting(parser, "style_layers", "style layers (Keras names are post-ReLU: block1_conv1 = relu1_1)", type=_names, metavar="L1,L2,...")
    _setting(parser, "device", "auto, cpu, cuda, cuda:N or mps")
    _setting(parser, "precision", "bf16 autocast on CUDA", choices=("fp32", "bf16"))
    _setting(parser, "pyramid_min_size", "long side of the coarsest pyramid level", type=int)
    parser.add_argument("--settings", default=None, help="JSON object of settings, under any flags given")


def _add_optimization_settings(parser) -> None:
    _setting(parser, "iterations", "iterations summed over the pyramid levels", type=int)
    _setting(parser, "optimizer", "optimization method", choices=("lbfgs", "adam"))
    _setting(parser, "lr", "step size; None: 1.0 for lbfgs, 0.02 for adam", type=float)
    _setting(parser, "init", "content, noise, or an image file")
    _setting(parser, "content_weight", "alpha", type=float)
    _setting(parser, "style_weight", "beta", type=float)
    _setting(parser, "tv_weight", "total variation weight", type=float)
    _setting(parser, "content_layer", "content layer (block5_conv2 = relu5_2)")
    _setting(parser, "style_layer_weights", "weight per style layer; None: equal", type=_floats, metavar="W1,W2,...")
    _setting(parser, "tolerance", "early stop when the loss falls less than this fraction over 10 iterations", type=float)
    _setting(parser, "seed", "random seed (noise init)", type=int)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def given_settings(args: argparse.Namespace) -> dict:
    """The settings named on the command line: --settings JSON, then the flags over it."""
    base = json.loads(args.settings) if getattr(args, "settings", None) else {}
    given = {name: getattr(args, name) for name in DEFAULTS.to_dict() if hasattr(args, name)}
    return {**base, **given}


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_dict(given_settings(args))


def _run_image(args) -> None:
    from .device import describe
    from .io import load_image, save_image
    from .style_targets import StyleTargets
    from .stylize import Stylizer

    settings = settings_from_args(args)
    content = load_image(args.content)
    styles = [load_image(path) for path in args.styles]
    stylizer = Stylizer(settings)
    print(f"device: {describe(stylizer.device)}", file=sys.stderr, flush=True)
    targets = StyleTargets.load(args.targets) if args.targets else stylizer.targets(styles, args.styles)
    save_image(stylizer.stylize(content, targets, progress=not args.quiet).image, args.output)


def _run_targets(args) -> None:
    from .io import load_image
    from .stylize import Stylizer

    styles = [load_image(path) for path in args.styles]
    Stylizer(settings_from_args(args)).targets(styles, args.styles).save(args.output)


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
    stylize_frames(args.frames_dir, args.first, args.count, args.targets, args.output, settings_from_args(args),
                   not args.quiet, args.flows)


def _run_optical_flow(args) -> None:
    from .optical_flow import compute_chunk_flows

    compute_chunk_flows(args.frames_dir, args.first, args.count, args.output, args.method)


def _run_warp_error(args) -> None:
    from .metrics import write_warp_error_table

    write_warp_error_table(args.frames_dir, args.stylized, args.output)


def _run_encode(args) -> None:
    from .encode import encode_video

    encode_video(args.chunks, args.meta, args.output, args.audio)


def _run_preview(args) -> None:
    from .preview import side_by_side

    side_by_side(args.content, args.stylized, args.output)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="painterly", description="Neural style transfer (Gatys et al.) on VGG-19.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    formatter = argparse.ArgumentDefaultsHelpFormatter

    image = commands.add_parser("image", help="stylize one image", formatter_class=formatter)
    image.add_argument("content", help="the photo to repaint")
    image.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    image.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    image.add_argument("--targets", help="reuse a style targets file from `painterly targets`")
    _add_style_settings(image)
    _add_optimization_settings(image)
    image.set_defaults(run=_run_image)

    video = commands.add_parser("video", help="stylize one video through the workflow", formatter_class=formatter)
    video.add_argument("input", help="the video to repaint")
    video.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    video.add_argument("-o", "--output", required=True, help="output .mp4")
    video.add_argument("--preset", default=None, help="a preset of config.yaml (default: its `preset`)")
    video.add_argument("--cores", type=int, default=4, help="cores Snakemake may use")
    _add_style_settings(video)
    _add_optimization_settings(video)
    video.set_defaults(run=_run_video)

    targets = commands.add_parser("targets", help="precompute the style Gram targets", formatter_class=formatter)
    targets.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    targets.add_argument("-o", "--output", required=True, help="targets file to write (.pt)")
    _add_style_settings(targets)
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
    chunk.add_argument("frames_dir")
    chunk.add_argument("--first", type=int, required=True)
    chunk.add_argument("--count", type=int, required=True)
    chunk.add_argument("--targets", required=True)
    chunk.add_argument("-o", "--output", required=True, help="directory to write")
    chunk.add_argument("--threads", type=int, default=1, help="CPU threads for torch")
    chunk.add_argument("--settings", default=None, help="JSON object of settings")
    chunk.add_argument("--flows", default=None, help="the chunk's optical flow directory (temporal mode)")
    chunk.add_argument("--quiet", action="store_true")
    chunk.set_defaults(run=_run_stylize_frames)

    flows = commands.add_parser("optical-flow", help="(workflow) flows into each frame of a chunk", formatter_class=formatter)
    flows.add_argument("frames_dir")
    flows.add_argument("--first", type=int, required=True)
    flows.add_argument("--count", type=int, required=True)
    flows.add_argument("--method", default="dis", help="dis, farneback, or a local RAFT state dict (.pth)")
    flows.add_argument("-o", "--output", required=True, help="directory to write")
    flows.set_defaults(run=_run_optical_flow)

    metric = commands.add_parser("warp-error", help="(workflow) temporal consistency of a stylized video", formatter_class=formatter)
    metric.add_argument("frames_dir", help="the input frames")
    metric.add_argument("stylized", nargs="+", help="directories of stylized frames, in order")
    metric.add_argument("-o", "--output", required=True, help="TSV table to write")
    metric.set_defaults(run=_run_warp_error)

    encode = commands.add_parser("encode", help="(workflow) encode stylized frames to MP4", formatter_class=formatter)
    encode.add_argument("chunks", nargs="+", help="directories of stylized frames, in order")
    encode.add_argument("--meta", required=True)
    encode.add_argument("--audio", default=None, help="source whose audio to mux back")
    encode.add_argument("-o", "--output", required=True)
    encode.set_defaults(run=_run_encode)

    preview = commands.add_parser("preview", help="(workflow) side-by-side still", formatter_class=formatter)
    preview.add_argument("content")
    preview.add_argument("stylized")
    preview.add_argument("-o", "--output", required=True)
    preview.set_defaults(run=_run_preview)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.formatwarning = lambda message, category, *rest: f"painterly: warning: {message}\n"
    try:
        args.run(args)
    except PainterlyError as error:
        print(f"painterly: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("painterly: interrupted; no output written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
