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
        "../../envs/video.yaml"
    shell:
        "python -m painterly encode {input.chunks:q} --meta {input.meta:q} --audio {input.source:q}"
        " -o {output:q} > {log:q} 2>&1"


rule preview:
    input:
        content=preview_content,
        stylized=preview_stylized,
    output:
        f"{RESULTS}/{{name}}/preview.jpg",
    log:
        f"{RESULTS}/logs/{{name}}/preview.log",
    conda:
        "../../envs/video.yaml"
    shell:
        "python -m painterly preview {input.content:q} {input.stylized:q} -o {output:q} > {log:q} 2>&1"
