# One read of the video: its metadata, cuts and chunks, and each chunk's record of where its
# frames are and their digest (a chunk reruns only when its record changes).
checkpoint plan_chunks:
    input:
        ROW_INPUT,
    output:
        plan=f"{RESULTS}/{{name}}/chunk_plan.json",
        meta=f"{RESULTS}/{{name}}/frames.json",
        chunk_sources=directory(f"{RESULTS}/{{name}}/chunk_sources"),
    log:
        f"{RESULTS}/logs/{{name}}/plan_chunks.log",
    conda:
        "../../envs/painterly.yaml"
    params:
        extraction=extraction_args,
        threshold=config["cut_threshold"],
        chunk_frames=CHUNK,
        lead_in=lead_in_frames,
        borders=CHUNK_BORDERS,
    shell:
        "python -m painterly.jobs plan-chunks {input:q} {params.extraction:q} --threshold {params.threshold}"
        " --chunk-frames {params.chunk_frames} --seam-frames {params.lead_in} --chunk-borders {params.borders}"
        " --plan {output.plan:q} --meta {output.meta:q} --chunk-sources {output.chunk_sources:q} > {log:q} 2>&1"
