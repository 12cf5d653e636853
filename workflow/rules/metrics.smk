rule warp_error:
    input:
        source=ancient(ROW_INPUT),
        chunk_sources=chunk_sources,
        stylized=styled_chunks,
        seams=seams,
    output:
        report(
            f"{RESULTS}/{{name}}/warp_error.tsv",
            caption="../report/warp_error_table.rst",
            category="{name}",
            subcategory="temporal consistency",
            labels={"file": "warp error table"},
        ),
    log:
        f"{RESULTS}/logs/{{name}}/warp_error.log",
    conda:
        "../../envs/painterly.yaml"
    params:
        extraction=extraction_args,
    shell:
        "python -m painterly.jobs warp-error {input.source:q} {input.stylized:q} {params.extraction:q}"
        " --seams {input.seams:q} -o {output:q} > {log:q} 2>&1"
