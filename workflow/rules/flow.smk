rule optical_flow:
    input:
        frames=chunk_frames,
    output:
        directory(f"{RESULTS}/{{name}}/flow/{{chunk}}"),
    log:
        f"{RESULTS}/logs/{{name}}/optical_flow/{{chunk}}.log",
    conda:
        "../../envs/painterly.yaml"
    params:
        method=lambda wildcards: SETTINGS[wildcards.name].flow_method,
    shell:
        "python -m painterly optical-flow {input.frames:q} --method {params.method:q} -o {output:q} > {log:q} 2>&1"
