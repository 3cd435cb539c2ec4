"""Metric evaluation: the evaluator, the samples it reads, and the pure NumPy functions it maps
LogQL AST nodes onto.

- `evaluate`: a metric expression tree on its step grid, node by node (`evaluate`).
- `samples`: a range aggregation's samples, read from storage through its pipeline (`extract`).
- `steps`: the step grid of a range or instant query, and Loki's checks of `step`.
- `additive`: the range functions that are sums over windows, without sorting the samples.
- `range_agg`: `count_over_time`, `rate`, ... for all series and steps at once (`range_step_matrix`).
- `vector_agg`: `sum by (...)`, `topk`, `sort`, ... (`aggregate`).
- `binop`: arithmetic, comparisons, `and`/`or`/`unless`, matching, `vector(x)`, `label_replace`.
- `limits`: Loki's pipeline-error and series-limit checks on results.
- `series`: `Series`/`Matrix` (answers) and `StepMatrix` (series aligned on the grid, between nodes).
- `result_json`: the `data` object exactly as Loki prints it (numbers through `logyard.gocompat.floatfmt`).
"""
