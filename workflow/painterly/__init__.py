"""painterly: optimization-based neural style transfer (Gatys et al.) on VGG-19 for images
and temporally consistent video (Ruder et al.), the engine behind the Snakemake workflow."""

__version__ = "0.1.0"
