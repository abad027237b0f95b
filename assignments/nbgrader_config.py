"""nbgrader configuration of the medimg course (nbgrader 0.9, JupyterLab 4).

Run nbgrader (or ``medimg grade ...``) from this folder. Paths are relative to this file, so a copy of
the folder works as is. See README.md here for the instructor pipeline.
"""

import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when it loads this file

HERE = Path(__file__).resolve().parent

# --- course --------------------------------------------------------------------------------------------
c.CourseDirectory.course_id = os.environ.get("MEDIMG_COURSE_ID", "medimg")
c.CourseDirectory.root = str(HERE)
c.CourseDirectory.db_url = f"sqlite:///{HERE / 'gradebook.db'}"
# the authoring scripts are not part of any assignment; never copy caches or checkpoints
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".pytest_cache"]

# --- grading ------------------------------------------------------------------------------------------
# Per-cell limit. nbgrader's default (30 s) is too short for training cells; exercises keep their own
# budget through mk.check (SIGALRM), so this is only the backstop for a cell that never returns.
c.Execute.timeout = 120
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True
# after a cell's reply, wait this long for its last output (nbclient's default, 4 s, is too short on a loaded
# grading machine: a notebook that missed it was not graded at all)
c.Execute.iopub_timeout = 30
# put deleted test cells back (otherwise the grade stays "needs manual grading")
c.OverwriteCells.add_missing_cells = True
# feedback must not show hidden tests (nbgrader's default feedback pipeline keeps them)
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# keep a notebook's runaway print loop from bloating the gradebook and feedback
c.LimitOutput.max_lines = 400

# CPU while grading: the kernels nbgrader starts inherit this process's environment, so every
# submission is graded on the same device with the same numerics, whatever the grading machine has.
os.environ["MEDIMG_DEVICE"] = "cpu"
os.environ["CUDA_VISIBLE_DEVICES"] = ""
os.environ.setdefault("MEDIMG_TIER", "smoke")
# a library warning printed by top-level code of a test cell would land on stderr and score 0
os.environ["PYTHONWARNINGS"] = "ignore"

# --- LMS downloads: `nbgrader zip_collect <a>` reads downloaded/<a>/archive/ ------------------------------
# The regex sees the full path of each file. Default: "<student_id>__<notebook>.ipynb"; see README.md for
# Moodle and Canvas patterns.
c.FileNameCollectorPlugin.named_regexp = r".*/(?P<student_id>[^/]+?)__(?P<file_id>[^/]+)$"

# --- exchange (JupyterHub only; LMS upload + local autograde does not use it) ----------------------------
# c.Exchange.root = "/srv/nbgrader/exchange"

# --- untrusted code --------------------------------------------------------------------------------------
# `autograde` runs each submission's kernel in a bubblewrap sandbox (no course files, no home, no network,
# hard CPU/memory/file-size limits) with the grading guard, and accepts a test cell only with the guard's
# signed "passed" stamp. Without a sandbox it refuses, unless MEDIMG_GRADE_UNSAFE=1 (`--unsafe`).
# Threat model: assignments/README.md.
import sys  # noqa: E402

if sys.argv[1:2] == ["autograde"]:
    from medimg_kernel.grading.secure_execute import configure_autograde

    configure_autograde(c)
