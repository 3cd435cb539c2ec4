"""LogQL log-pipeline stages with Loki's exact semantics.

Column stage: `LineFilter.mask(lines)` / `filters_mask(lines, filters)` (vectorized, NumPy bool mask)
and `decolorize_column`. Row stages all have `process(ts_ns, line, lbs) -> (line, keep)` over a
`LabelsBuilder` (one per entry, built from stream labels, structured metadata and, for metric
queries, `ParserHints.for_metric(required_label_names(stages), groups, without, no_labels)`);
`run_stages` runs a chain for one entry. The evaluator maps AST nodes onto these constructors:

  line filter      LineFilter(op, values, ips)          op in |= != |~ !~ |> !>
  | logfmt         LogfmtParser(strict, keep_empty) / LogfmtExpressionParser({label: key}, strict)
  | json           JSONParser() / JSONExpressionParser({label: path})
  | regexp         RegexpParser(pattern)
  | pattern        PatternParser(pattern)
  | unpack         UnpackParser()
  | decolorize     Decolorizer()
  label filters    StringLabelFilter(name, op, value), NumericLabelFilter(name, op, float),
                   DurationLabelFilter(name, op, ns), BytesLabelFilter(name, op, bytes),
                   IPLabelFilter(name, op, pattern), AndLabelFilter(l, r), OrLabelFilter(l, r)
  | line_format    LineFormatter(template)
  | label_format   LabelsFormatter([LabelFmt(name, value, rename)])
  | drop / keep    DropLabels(items) / KeepLabels(items), items: names or logyard.labels.Matcher
"""

from .builder import NO_HINTS, LabelsBuilder, ParserHints
from .decolorize import Decolorizer, decolorize_column
from .drop import DropLabels
from .format import LabelFmt, LabelsFormatter, LineFormatter
from .json import JSONExpressionParser, JSONParser
from .keep import KeepLabels
from .label_filter import (
    ALWAYS_TRUE_REGEXES,
    AndLabelFilter,
    BytesLabelFilter,
    DurationLabelFilter,
    IPLabelFilter,
    NumericLabelFilter,
    OrLabelFilter,
    StringLabelFilter,
)
from .line_filter import LineFilter, filters_mask
from .logfmt import LogfmtExpressionParser, LogfmtParser
from .pattern import PatternParser
from .pipeline import Stage, required_label_names, run_stages
from .regexp import RegexpParser
from .unpack import UnpackParser

__all__ = [
    "ALWAYS_TRUE_REGEXES", "NO_HINTS", "ParserHints", "required_label_names",
    "AndLabelFilter", "BytesLabelFilter", "Decolorizer", "DropLabels", "DurationLabelFilter",
    "IPLabelFilter", "JSONExpressionParser", "JSONParser", "KeepLabels", "LabelFmt", "LabelsBuilder",
    "LabelsFormatter", "LineFilter", "LineFormatter", "LogfmtExpressionParser", "LogfmtParser",
    "NumericLabelFilter", "OrLabelFilter", "PatternParser", "RegexpParser", "Stage", "StringLabelFilter",
    "UnpackParser", "decolorize_column", "filters_mask", "run_stages",
]
