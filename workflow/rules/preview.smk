rule preview:
    input:
        content=preview_content,
        stylized=preview_stylized,
    output:
        f"{RESULTS}/{{name}}/preview.jpg",
    log:
        f"{RESULTS}/logs/{{name}}/preview.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly preview {input.content:q} {input.stylized:q} -o {output:q} > {log:q} 2>&1"
