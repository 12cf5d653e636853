import sys

from ..cli import main
from .commands import build_parser

sys.exit(main(parser=build_parser()))
