"""The workflow's jobs (one command per rule: ``python -m painterly.jobs COMMAND``), the
provenance records and the report's tables and plots."""
