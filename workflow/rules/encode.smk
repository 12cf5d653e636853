rule encode_video:
    input:
        chunks=styled_chunks,
        meta=f"{RESULTS}/{{name}}/frames.json",
        source=lambda wildcards: row(wildcards.name)["input"],
    output:
        f"{RESULTS}/{{name}}/{{name}}.mp4",
    log:
        f"{RESULTS}/logs/{{name}}/encode_video.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly encode {input.chunks:q} --meta {input.meta:q} --audio {input.source:q}"
        " -o {output:q} > {log:q} 2>&1"
