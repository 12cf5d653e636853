rule stylize_frames:
    input:
        frames=chunk_frame_files,
        targets=style_targets_path,
        flows=chunk_flows,
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
        frames_dir=lambda wildcards: checkpoints.extract_frames.get(
            name=wildcards.name
        ).output.frames,
        first_frame=lambda wildcards: chunk_range(wildcards)[0],
        frame_count=lambda wildcards: chunk_range(wildcards)[1],
        settings=lambda wildcards: settings_json(wildcards.name),
        flow_args=flow_args,
    shell:
        "python -m painterly stylize-frames {params.frames_dir:q} --first {params.first_frame} --count {params.frame_count}"
        " --targets {input.targets:q} -o {output:q} --threads {threads} --settings {params.settings:q}"
        " {params.flow_args:q} --quiet > {log:q} 2>&1"


rule stylize_image:
    input:
        content=lambda wildcards: row(wildcards.name)["input"],
        styles=lambda wildcards: styles(wildcards.name),
        targets=style_targets_path,
    output:
        f"{RESULTS}/{{name}}/{{name}}.png",
    log:
        f"{RESULTS}/logs/{{name}}/stylize_image.log",
    benchmark:
        f"{RESULTS}/benchmarks/{{name}}/stylize_image.tsv"
    conda:
        "../../envs/painterly.yaml"
    threads: config["stylize"]["threads"]
    resources:
        gpu=config["stylize"]["gpu"],
        mem_mb=config["stylize"]["mem_mb"],
        runtime=config["stylize"]["runtime"],
    params:
        settings=lambda wildcards: settings_json(wildcards.name),
    shell:
        "python -m painterly image {input.content:q} {input.styles:q} --targets {input.targets:q}"
        " --settings {params.settings:q} -o {output:q} --quiet > {log:q} 2>&1"
