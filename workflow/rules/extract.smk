checkpoint extract_frames:
    input:
        ROW_INPUT,
    output:
        frames=directory(f"{RESULTS}/{{name}}/frames"),
        meta=f"{RESULTS}/{{name}}/frames.json",
    log:
        f"{RESULTS}/logs/{{name}}/extract_frames.log",
    conda:
        "../../envs/painterly.yaml"
    params:
        extraction=extraction_args,
    shell:
        "python -m painterly.jobs extract-frames {input:q} --frames-dir {output.frames:q} --meta {output.meta:q}"
        " {params.extraction:q} > {log:q} 2>&1"
