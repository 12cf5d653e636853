rule optical_flow:
    input:
        chunk_frame_files,
    output:
        directory(f"{RESULTS}/{{name}}/flow/{{chunk}}"),
    log:
        f"{RESULTS}/logs/{{name}}/optical_flow/{{chunk}}.log",
    conda:
        "../../envs/painterly.yaml"
    params:
        frames_dir=lambda wildcards: checkpoints.extract_frames.get(
            name=wildcards.name
        ).output.frames,
        first_frame=lambda wildcards: chunk_range(wildcards)[0],
        frame_count=lambda wildcards: chunk_range(wildcards)[1],
        method=lambda wildcards: settings(wildcards.name)["flow_method"],
    shell:
        "python -m painterly optical-flow {params.frames_dir:q} --first {params.first_frame}"
        " --count {params.frame_count} --method {params.method:q} -o {output:q} > {log:q} 2>&1"
