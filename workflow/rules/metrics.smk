rule warp_error:
    input:
        frames=lambda wildcards: checkpoints.extract_frames.get(
            name=wildcards.name
        ).output.frames,
        stylized=styled_chunks,
    output:
        f"{RESULTS}/{{name}}/warp_error.tsv",
    log:
        f"{RESULTS}/logs/{{name}}/warp_error.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly warp-error {input.frames:q} {input.stylized:q} -o {output:q} > {log:q} 2>&1"
