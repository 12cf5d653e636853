rule preview:
    input:
        content=ROW_INPUT,
        # A video's first frame: the first chunk's record locates it.
        first_chunk=branch(is_video_row, then=first_chunk_source, otherwise=[]),
        stylized=branch(
            is_video_row,
            then=f"{RESULTS}/{{name}}/styled/0000",
            otherwise=f"{RESULTS}/{{name}}/{{name}}.png",
        ),
    output:
        report(
            f"{RESULTS}/{{name}}/preview.jpg",
            caption="../report/preview.rst",
            category="{name}",
            subcategory="result",
            labels={"file": "preview"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/preview.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly.jobs preview {input.content:q} {input.stylized:q} {input.first_chunk:q}"
        " -o {output:q} > {log:q} 2>&1"
