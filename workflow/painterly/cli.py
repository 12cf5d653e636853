"""Command line: ``painterly image`` and ``painterly targets``."""

from __future__ import annotations

import argparse
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


def _add_settings_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    add = parser.add_argument
    add("--size", type=int, default=d.size, help="long side of the output in pixels")
    add("--style-scale", type=float, default=d.style_scale, help="style image size relative to the content")
    add("--style-blend", type=_floats, default=None, metavar="W1,W2,...", help="blend weights of several styles; None: equal")
    add("--preserve-colors", action="store_true", help="transfer luminance only; keep the content's colours")
    add("--weights", default=d.weights, help="VGG-19 weights: caffe (offline), torchvision (downloads once), or a .pth file")
    add("--pooling", choices=("max", "avg"), default=d.pooling, help="VGG pooling layers")
    add("--style-layers", type=lambda s: tuple(s.split(",")), default=",".join(d.style_layers), metavar="L1,L2,...",
        help="style layers (Keras names are post-ReLU: block1_conv1 = relu1_1)")
    add("--device", default=d.device, help="auto, cpu, cuda, cuda:N or mps")
    add("--precision", choices=("fp32", "bf16"), default=d.precision, help="bf16 autocast on CUDA")
    add("--pyramid-min-size", type=int, default=d.pyramid_min_size, help="long side of the coarsest pyramid level")


def _add_optimization_arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    add = parser.add_argument
    add("--iterations", type=int, default=d.iterations, help="iterations summed over the pyramid levels")
    add("--optimizer", choices=("lbfgs", "adam"), default=d.optimizer, help="optimization method")
    add("--lr", type=float, default=d.lr, help="step size; None: 1.0 for lbfgs, 0.02 for adam")
    add("--init", default=d.init, help="content, noise, or an image file")
    add("--content-weight", type=float, default=d.content_weight, help="alpha")
    add("--style-weight", type=float, default=d.style_weight, help="beta")
    add("--tv-weight", type=float, default=d.tv_weight, help="total variation weight")
    add("--content-layer", default=d.content_layer, help="content layer (block5_conv2 = relu5_2)")
    add("--style-layer-weights", type=_floats, default=None, metavar="W1,W2,...", help="weight per style layer; None: equal")
    add("--tolerance", type=float, default=d.tolerance, help="early stop when the loss falls less than this fraction over 10 iterations")
    add("--seed", type=int, default=d.seed, help="random seed (noise init)")
    add("--quiet", action="store_true", help="no progress bar")


def _settings(args: argparse.Namespace) -> Settings:
    names = [f.name for f in Settings.__dataclass_fields__.values()]
    return Settings(**{name: getattr(args, name) for name in names if hasattr(args, name)})


def _run_image(args: argparse.Namespace) -> None:
    from .io import load_image, save_image
    from .style_targets import StyleTargets
    from .stylize import Stylizer

    settings = _settings(args)
    content = load_image(args.content)
    styles = [load_image(path) for path in args.styles]
    stylizer = Stylizer(settings)
    if args.targets:
        targets = StyleTargets.load(args.targets)
    else:
        targets = stylizer.targets(styles, args.styles)
    result = stylizer.stylize(content, targets, progress=not args.quiet)
    save_image(result.image, args.output)


def _run_targets(args: argparse.Namespace) -> None:
    from .io import load_image
    from .stylize import Stylizer

    settings = _settings(args)
    styles = [load_image(path) for path in args.styles]
    Stylizer(settings).targets(styles, args.styles).save(args.output)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="painterly", description="Neural style transfer (Gatys et al.) on VGG-19.")
    commands = parser.add_subparsers(dest="command", required=True)
    formatter = argparse.ArgumentDefaultsHelpFormatter

    image = commands.add_parser("image", help="stylize one image", formatter_class=formatter)
    image.add_argument("content", help="the photo to repaint")
    image.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    image.add_argument("-o", "--output", required=True, help="output image (.png, .jpg, ...)")
    image.add_argument("--targets", default=None, help="reuse a style targets file from `painterly targets`")
    _add_settings_arguments(image)
    _add_optimization_arguments(image)
    image.set_defaults(run=_run_image)

    targets = commands.add_parser("targets", help="precompute the style Gram targets", formatter_class=formatter)
    targets.add_argument("styles", nargs="+", metavar="style", help="one or more style images")
    targets.add_argument("-o", "--output", required=True, help="targets file to write (.pt)")
    _add_settings_arguments(targets)
    targets.set_defaults(run=_run_targets)
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
