"""Evaluation: metrics compatible with ScanRefer / Multi3DRefer / ReferIt3D, and a runner.

    from apeiria_model.evaluation import evaluate, print_report
    report = evaluate(reasoner, samples, scenes)
    print_report(report.to_dict())

Definitions: docs/metrics.md.
"""

from apeiria_model.evaluation.evaluate import (
    EvalReport,
    EvaluationError,
    QueryRecord,
    annotate_samples,
    check_samples,
    evaluate,
    score_query,
    summarize,
)
from apeiria_model.evaluation.metrics import (
    IOU_THRESHOLDS,
    VIEW_DEPENDENT_WORDS,
    acc_at_k,
    answers_match,
    depth_bucket,
    f1_from_iou,
    hungarian_match,
    iou_matrix,
    is_hard,
    is_view_dependent,
    m3d_group,
    normalize_answer,
    referit3d_correct,
)
from apeiria_model.evaluation.report import print_real_report, print_report, real_report_tables, report_tables

__all__ = [
    "EvalReport", "EvaluationError", "QueryRecord", "annotate_samples", "check_samples", "evaluate",
    "score_query", "summarize", "IOU_THRESHOLDS", "VIEW_DEPENDENT_WORDS", "acc_at_k", "answers_match",
    "depth_bucket", "f1_from_iou", "hungarian_match", "iou_matrix", "is_hard", "is_view_dependent",
    "m3d_group", "normalize_answer", "referit3d_correct", "print_report", "report_tables", "print_real_report",
    "real_report_tables",
]
