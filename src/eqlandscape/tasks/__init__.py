"""Learning problems with ``G``-invariant data (docs/design.md section 1).

* :mod:`~eqlandscape.tasks.teacher`: teacher-student problems (an equivariant teacher labels
  ``G``-invariant Gaussian or uniform inputs); the demo's teacher.
* :mod:`~eqlandscape.tasks.graphs`: stochastic-block-model graphs, ``S_n`` acting on adjacency
  matrices (``natural^2``), labelled by connectivity.
* :mod:`~eqlandscape.tasks.digits`: scikit-learn's 8x8 digits, ``C4`` or ``D4`` acting on the pixels.

Every task offers the same small protocol (:class:`Task`): train and test tensors, the input and
output reps, the loss, and a JSON-serializable description.
"""

from eqlandscape.nn.functional import LOSSES
from eqlandscape.tasks.digits import DigitsTask, digits_masks, digits_task, pixel_group
from eqlandscape.tasks.graphs import GraphTask, connected, graph_task, sbm_graphs
from eqlandscape.tasks.protocol import Task
from eqlandscape.tasks.teacher import INPUTS, TeacherStudentTask, demo_task, plane_teacher, teacher_student

__all__ = [
    "INPUTS",
    "LOSSES",
    "DigitsTask",
    "GraphTask",
    "Task",
    "TeacherStudentTask",
    "connected",
    "demo_task",
    "digits_masks",
    "digits_task",
    "graph_task",
    "pixel_group",
    "plane_teacher",
    "sbm_graphs",
    "teacher_student",
]
