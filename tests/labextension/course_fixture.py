"""A small course folder in the real layout: lessons, an nbgrader assignment, a remote dataset on loopback."""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat

LESSON_MD = """# 01 · Images for the fixture

Some text.

**Learning objectives** — after this notebook you can
1. read an image;
2. window it for display,
   with a wrapped line.

Estimated time: 25 min
"""

ASSIGNMENT_SETUP = "import medimg_kernel as mk\n"
ANSWER_SOLVED = """def double(x):
    \"\"\"Return 2 * x.\"\"\"
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
"""
ANSWER_BLANK = """def double(x):
    \"\"\"Return 2 * x.\"\"\"
    # YOUR CODE HERE
    raise NotImplementedError()
"""
TESTS = """def test_two():
    \"\"\"double(2) is 4. Hint: multiply by two\"\"\"
    assert double(2) == 4


def test_negative():
    \"\"\"double(-3) is -6. Hint: negative numbers work the same way\"\"\"
    assert double(-3) == -6


mk.check("double", test_two, test_negative)
### BEGIN HIDDEN TESTS
def test_secret_never_shown():
    assert double(10**6) == 2 * 10**6
mk.check("double", test_secret_never_shown, hidden=True)
### END HIDDEN TESTS
"""
ANSWER2_SOLVED = """def halve(x):
    ### BEGIN SOLUTION
    return x / 2
    ### END SOLUTION
"""
ANSWER2_BLANK = """def halve(x):
    # YOUR CODE HERE
    raise NotImplementedError()
"""
TESTS2 = """def test_half():
    \"\"\"halve(3) is 1.5. Hint: use true division /\"\"\"
    assert halve(3) == 1.5


mk.check("halve", test_half)
"""


def _grade(cell: nbformat.NotebookNode, grade_id: str, grade: bool, solution: bool, points: int = 0) -> None:
    cell.metadata["nbgrader"] = {"grade": grade, "grade_id": grade_id, "locked": not solution, "points": points,
                                 "schema_version": 3, "solution": solution, "task": False}


def assignment_notebook(path: Path, solved: bool) -> Path:
    """Write an nbgrader assignment with two self-checked exercises (solved, or blank as released)."""
    v4 = nbformat.v4
    cells = [v4.new_markdown_cell("# Assignment 01 — fixture"), v4.new_code_cell(ASSIGNMENT_SETUP),
             v4.new_code_cell(ANSWER_SOLVED if solved else ANSWER_BLANK), v4.new_code_cell(TESTS),
             v4.new_code_cell(ANSWER2_SOLVED if solved else ANSWER2_BLANK), v4.new_code_cell(TESTS2)]
    _grade(cells[1], "setup", False, False)
    _grade(cells[2], "ex1_answer", False, True)
    _grade(cells[3], "ex1_tests", True, False, 2)
    _grade(cells[4], "ex2_answer", False, True)
    _grade(cells[5], "ex2_tests", True, False, 1)
    nb = v4.new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["medimg"] = {"assignment": path.stem}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def lesson_notebook(path: Path, markdown: str, code: str = "x = 1\nprint(x)") -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(markdown), nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["medimg"] = {"budget_s": 90}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def make_course(root: Path) -> Path:
    """Lessons 00-02 in ``notebooks/``, assignment 01 (source = solved, release = blank), a non-course notebook."""
    lesson_notebook(root / "notebooks" / "00_welcome.ipynb", "# 00 · Welcome\n\nStart here.")
    lesson_notebook(root / "notebooks" / "01_images.ipynb", LESSON_MD)
    lesson_notebook(root / "notebooks" / "02_models.ipynb", "# 02 · Models\n\n**Learning objectives**\n- train one\n")
    assignment_notebook(root / "assignments" / "source" / "01_images" / "01_images.ipynb", solved=True)
    assignment_notebook(root / "assignments" / "release" / "01_images" / "01_images.ipynb", solved=False)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print('not a course notebook')")])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / "scratch.ipynb")
    return root


def make_remote_dataset(serve_dir: Path, registry_file: Path, base_url: str, size: int = 3_000_000) -> dict:
    """A remote dataset ``fixture-blob`` (one file served on loopback) and ``fixture-missing`` (404 at the origin)."""
    serve_dir.mkdir(parents=True, exist_ok=True)
    blob = bytes(range(256)) * (size // 256)
    (serve_dir / "blob.bin").write_bytes(blob)
    sha = hashlib.sha256(blob).hexdigest()
    registry_file.write_text(f"""datasets:
  - name: fixture-blob
    title: Fixture blob served on loopback
    source: remote
    modality: none
    task: test
    license: CC0-1.0
    loader: sample
    files:
      - filename: blob.bin
        urls: ["{base_url}/blob.bin"]
        sha256: {sha}
        size: {len(blob)}
  - name: fixture-missing
    title: Fixture whose origin answers 404
    source: remote
    modality: none
    task: test
    license: CC0-1.0
    loader: sample
    files:
      - filename: gone.bin
        urls: ["{base_url}/gone.bin"]
        sha256: "{"0" * 64}"
        size: 10
""")
    return {"sha256": sha, "size": len(blob)}
