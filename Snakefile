# painterly: videos and images into moving paintings.
# plan_chunks (reads the video once), style_targets -> stylize_frames (chunks: their frames
#   decoded from the video, their flows inside) -> seam (borders inside a shot) -> encode_video, warp_error
#   -> provenance, chunk_times, plot_losses, plot_warp_error (for snakemake --report)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "workflow/report/workflow.rst"


# Limits on `gpu` apply per node, so `--resources gpu=N` caps GPU jobs on each machine.
resource_scopes:
    gpu="local",


wildcard_constraints:
    name=r"[A-Za-z0-9][A-Za-z0-9_.-]*",
    chunk=r"\d+",
    key=r"[^/]+",


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/run_lock.smk"
include: "workflow/rules/shots.smk"
include: "workflow/rules/targets.smk"
include: "workflow/rules/stylize.smk"
include: "workflow/rules/seams.smk"
include: "workflow/rules/encode.smk"
include: "workflow/rules/preview.smk"
include: "workflow/rules/metrics.smk"
include: "workflow/rules/report.smk"


localrules:
    all,


rule all:
    input:
        final_outputs(),
