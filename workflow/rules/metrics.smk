rule warp_error:
    input:
        frames=lambda wildcards: extracted(wildcards.name).frames,
        stylized=styled_chunks,
        seams=seams,
    output:
        f"{RESULTS}/{{name}}/warp_error.tsv",
    log:
        f"{RESULTS}/logs/{{name}}/warp_error.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly warp-error {input.frames:q} {input.stylized:q} --seams {input.seams:q} -o {output:q} > {log:q} 2>&1"
