checkpoint plan_chunks:
    input:
        frames=f"{RESULTS}/{{name}}/frames",
    output:
        f"{RESULTS}/{{name}}/chunk_plan.json",
    log:
        f"{RESULTS}/logs/{{name}}/plan_chunks.log",
    conda:
        "../../envs/painterly.yaml"
    params:
        threshold=config["cut_threshold"],
        chunk_frames=CHUNK,
        seam_frames=SEAM,
    shell:
        "python -m painterly.jobs plan-chunks {input.frames:q} --threshold {params.threshold}"
        " --chunk-frames {params.chunk_frames} --seam-frames {params.seam_frames} -o {output:q} > {log:q} 2>&1"
