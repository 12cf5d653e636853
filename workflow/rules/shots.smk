checkpoint find_shots:
    input:
        frames=f"{RESULTS}/{{name}}/frames",
    output:
        f"{RESULTS}/{{name}}/shots.json",
    log:
        f"{RESULTS}/logs/{{name}}/find_shots.log",
    conda:
        "../../envs/painterly.yaml"
    params:
        threshold=config["cut_threshold"],
    shell:
        "python -m painterly find-shots {input.frames:q} --threshold {params.threshold} -o {output:q} > {log:q} 2>&1"
