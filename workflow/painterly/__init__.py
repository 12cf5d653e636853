"""painterly: optimization-based neural style transfer (Gatys et al.) on VGG-19 for images
and temporally consistent video (Ruder et al.), the engine behind the Snakemake workflow."""

__version__ = "0.1.0"

import os

# MKL picks code paths by buffer alignment, so the same matmul can round differently from
# run to run; L-BFGS amplifies that into different pixels. STRICT makes it bitwise
# repeatable (same seed, same bytes) at the machine's best instruction set. Read by MKL at
# its first call, so setting it here, before any painterly module computes, is enough.
os.environ.setdefault("MKL_CBWR", "AUTO,STRICT")
