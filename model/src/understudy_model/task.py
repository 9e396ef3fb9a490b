"""What a model predicts: a number (regression) or a label with class probabilities.

Stored in ``model.json`` (format 2) as ``"task"``::

    {"kind": "regression"}
    {"kind": "classification", "classes": ["no", "yes"], "positive_class": "yes"}

``classes`` are the pipeline's ``classes_`` as strings, in its order (the columns of
``predict_proba``). ``positive_class`` names the class whose probability is the one
number a classifier's prediction is summarised by: the prediction histogram, the
distribution checks (KS, PSI) and the slices by live value all use it. It defaults to
the last class (scikit-learn's positive class of a binary problem). An artifact without a
task block (format 1) is a regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

TaskKind = Literal["regression", "classification"]
TASK_KINDS: tuple[TaskKind, ...] = ("regression", "classification")


@dataclass(frozen=True)
class Task:
    kind: TaskKind = "regression"
    classes: tuple[str, ...] = ()
    positive_class: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in TASK_KINDS:
            raise ValueError(f"task kind {self.kind!r} is not one of {', '.join(TASK_KINDS)}")
        if self.kind == "classification":
            if len(self.classes) < 2:
                raise ValueError("a classification task needs at least two classes")
            if len(set(self.classes)) != len(self.classes):
                raise ValueError(f"task classes repeat: {list(self.classes)}")
            if self.positive_class not in self.classes:
                raise ValueError(
                    f"task positive_class {self.positive_class!r} is not one of the classes "
                    f"{list(self.classes)}"
                )

    @property
    def is_classification(self) -> bool:
        return self.kind == "classification"

    @property
    def positive_index(self) -> int:
        return self.classes.index(str(self.positive_class))

    def to_dict(self) -> dict[str, Any]:
        if not self.is_classification:
            return {"kind": self.kind}
        return {
            "kind": self.kind,
            "classes": list(self.classes),
            "positive_class": self.positive_class,
        }

    @classmethod
    def from_dict(cls, data: Any) -> Task:
        if data is None:
            return REGRESSION
        if not isinstance(data, dict):
            raise ValueError(f"task must be an object, got {type(data).__name__}")
        unknown = sorted(set(data) - {"kind", "classes", "positive_class"})
        if unknown:
            raise ValueError(f"task has unknown keys: {', '.join(unknown)}")
        classes = data.get("classes", [])
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise ValueError("task classes must be a list of strings")
        return cls(
            kind=data.get("kind", "regression"),
            classes=tuple(classes),
            positive_class=data.get("positive_class"),
        )

    @classmethod
    def classifier(cls, classes: Sequence[object], positive_class: str | None = None) -> Task:
        """The task of a classifier with scikit-learn ``classes_``; positive class: the
        given one, else the last class."""
        names = tuple(str(c) for c in classes)
        return cls(
            kind="classification",
            classes=names,
            positive_class=positive_class if positive_class is not None else names[-1],
        )

    def mismatch(self, pipeline: object) -> str | None:
        """Why ``pipeline`` cannot serve this classification task, or None."""
        if not hasattr(pipeline, "predict_proba"):
            return f"the task is classification but {type(pipeline).__name__} has no predict_proba"
        classes = tuple(str(c) for c in getattr(pipeline, "classes_", ()))
        if classes != self.classes:
            return f"model.json lists classes {list(self.classes)}, the pipeline {list(classes)}"
        return None

    def split_classes(self, output: Any) -> tuple[list[str], Any]:
        """``LoadedModel.predict_classes``' matrix -> (labels, probability matrix)."""
        labels = [self.classes[int(i)] for i in output[:, 0]]
        return labels, output[:, 1:]


REGRESSION = Task()
