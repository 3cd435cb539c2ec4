"""Promtail's pipeline stages: `stage` (the contract), `pipeline` (the table and the run), one module
per family (`extract`, `transform`, `control`, `metrics`) and their helpers (`jmes`, `selector`)."""
