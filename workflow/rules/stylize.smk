rule stylize_frames:
    input:
        # The video's time stamp alone reruns no chunk: its record does, when its frames change.
        source=ancient(ROW_INPUT),
        chunk_source=chunk_source,
        earlier=continued_chunks,
        targets=style_targets_path,
    output:
        directory(f"{RESULTS}/{{name}}/styled/{{chunk}}"),
    log:
        f"{RESULTS}/logs/{{name}}/stylize_frames/{{chunk}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{name}}/stylize_frames/{{chunk}}.tsv"
    conda:
        "../../envs/painterly.yaml"
    threads: config["stylize"]["threads"]
    resources:
        gpu=config["stylize"]["gpu"],
        mem_mb=config["stylize"]["mem_mb"],
        runtime=config["stylize"]["runtime"],
    params:
        settings=settings_json,
        lead_in=lambda wildcards: chunk_of(wildcards).lead_in,
        seam_frames=SEAM,
    shell:
        "python -m painterly.jobs stylize-frames {input.source:q} --chunk-source {input.chunk_source:q}"
        " --targets {input.targets:q} -o {output:q}"
        " --lead-in {params.lead_in} --seam-frames {params.seam_frames} --earlier-chunks {input.earlier:q}"
        " --threads {threads}"
        " --settings {params.settings:q} --quiet > {log:q} 2>&1"


rule stylize_image:
    input:
        content=ROW_INPUT,
        styles=row_styles,
        targets=style_targets_path,
    output:
        image=report(
            f"{RESULTS}/{{name}}/{{name}}.png",
            caption="../report/image.rst",
            category="{name}",
            subcategory="result",
            labels={"file": "stylized image"},
        ),
        # Written by `painterly image` beside its output.
        sidecar=report(
            f"{RESULTS}/{{name}}/{{name}}.json",
            caption="../report/provenance.rst",
            category="{name}",
            subcategory="provenance",
            labels={"file": "provenance record"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/stylize_image.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{name}}/stylize_image.tsv"
    # A video row's sidecar comes from the provenance rule.
    wildcard_constraints:
        name=IMAGE_NAMES,
    conda:
        "../../envs/painterly.yaml"
    threads: config["stylize"]["threads"]
    resources:
        gpu=config["stylize"]["gpu"],
        mem_mb=config["stylize"]["mem_mb"],
        runtime=config["stylize"]["runtime"],
    params:
        settings=settings_json,
    shell:
        "python -m painterly image {input.content:q} {input.styles:q} --targets {input.targets:q}"
        " --settings {params.settings:q} -o {output.image:q} --quiet > {log:q} 2>&1"
