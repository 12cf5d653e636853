rule style_targets:
    input:
        lambda wildcards: styles(STYLE_SETS[wildcards.key]),
    output:
        f"{RESULTS}/style_targets/{{key}}.pt",
    log:
        f"{RESULTS}/logs/style_targets/{{key}}.log",
    # Safe to share between workflows: the file is a pure function of the style images
    # (hashed by content) and the settings in params, which the cache key covers.
    cache: "omit-software"
    conda:
        "../../envs/painterly.yaml"
    resources:
        gpu=config["stylize"]["gpu"],
    params:
        settings=lambda wildcards: json.dumps(
            SETTINGS[STYLE_SETS[wildcards.key]].target_values(), sort_keys=True
        ),
    shell:
        "python -m painterly targets {input:q} --settings {params.settings:q} -o {output:q} > {log:q} 2>&1"
