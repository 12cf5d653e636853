rule seam:
    input:
        earlier=previous_chunk,
        later=f"{RESULTS}/{{name}}/styled/{{chunk}}",
    output:
        f"{RESULTS}/{{name}}/seams/{{chunk}}.mkv",
    log:
        f"{RESULTS}/logs/{{name}}/seam/{{chunk}}.log",
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly.jobs seam {input.earlier:q} {input.later:q} -o {output:q} > {log:q} 2>&1"
