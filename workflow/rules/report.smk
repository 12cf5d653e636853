# Provenance sidecars of videos, and the tables and plots `snakemake --report` shows per row
# (engine: painterly.jobs.provenance, painterly.jobs.report; captions: workflow/report/).


rule provenance:
    input:
        source=ROW_INPUT,
        styles=row_styles,
        chunks=styled_chunks,
        benchmarks=chunk_benchmarks,
    output:
        report(
            f"{RESULTS}/{{name}}/{{name}}.json",
            caption="../report/provenance.rst",
            category="{name}",
            subcategory="provenance",
            labels={"file": "provenance record"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/provenance.log",
    # An image row's sidecar comes from its stylize_image job.
    wildcard_constraints:
        name=VIDEO_NAMES,
    # Records the versions of the environment the stylize jobs ran in.
    conda:
        "../../envs/painterly.yaml"
    params:
        settings=settings_json,
        workflow=video_workflow_json,
    shell:
        "python -m painterly.jobs provenance {input.source:q} {input.styles:q} --settings {params.settings:q}"
        " --chunks {input.chunks:q} --benchmarks {input.benchmarks:q} --workflow {params.workflow:q}"
        " -o {output:q} > {log:q} 2>&1"


rule chunk_times:
    input:
        benchmarks=chunk_benchmarks,
        chunks=styled_chunks,
        plan=f"{RESULTS}/{{name}}/chunk_plan.json",
    output:
        report(
            f"{RESULTS}/{{name}}/report/chunk_times.html",
            caption="../report/chunk_times.rst",
            category="{name}",
            subcategory="optimization",
            labels={"file": "stylize jobs' times"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/chunk_times.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly.jobs chunk-times --benchmarks {input.benchmarks:q} --chunks {input.chunks:q}"
        " --plan {input.plan:q}"
        " -o {output:q} > {log:q} 2>&1"


rule plot_losses:
    input:
        chunks=styled_chunks,
        plan=f"{RESULTS}/{{name}}/chunk_plan.json",
    output:
        report(
            f"{RESULTS}/{{name}}/report/losses.svg",
            caption="../report/losses.rst",
            category="{name}",
            subcategory="optimization",
            labels={"file": "loss curves"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/plot_losses.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly.jobs plot-losses --chunks {input.chunks:q} --plan {input.plan:q}"
        " -o {output:q} > {log:q} 2>&1"


rule plot_warp_error:
    input:
        table=f"{RESULTS}/{{name}}/warp_error.tsv",
        plan=f"{RESULTS}/{{name}}/chunk_plan.json",
    output:
        report(
            f"{RESULTS}/{{name}}/report/warp_error.svg",
            caption="../report/warp_error_plot.rst",
            category="{name}",
            subcategory="temporal consistency",
            labels={"file": "warp error plot"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/plot_warp_error.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly.jobs plot-warp-error {input.table:q} --plan {input.plan:q}"
        " -o {output:q} > {log:q} 2>&1"
