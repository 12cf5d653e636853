from painterly.media.encode import FORMATS


rule encode_video:
    input:
        chunks=styled_chunks,
        seams=seams,
        meta=f"{RESULTS}/{{name}}/frames.json",
        source=ROW_INPUT,
    output:
        report(
            f"{RESULTS}/{{name}}/{{name}}.{{suffix}}",
            caption="../report/video.rst",
            category="{name}",
            subcategory="result",
            labels={"file": "stylized video ({suffix})"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/encode_video.{{suffix}}.log",
    wildcard_constraints:
        suffix="|".join(FORMATS),
    conda:
        "../../envs/painterly.yaml"
    shell:
        "python -m painterly.jobs encode {input.chunks:q} --seams {input.seams:q} --meta {input.meta:q} --audio {input.source:q}"
        " -o {output:q} > {log:q} 2>&1"
