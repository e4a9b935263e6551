"""docs/first-study.md and the browser walk that takes its screenshots cannot drift apart: every image the guide
shows exists and is one of the walk's step names (tests/browser/test_first_study_walk_in_browser.py, STEPS), and the
guide is linked from the README."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GUIDE = REPO / "docs" / "first-study.md"
WALK = REPO / "tests" / "browser" / "test_first_study_walk_in_browser.py"


def walk_steps() -> tuple[str, ...]:
    """STEPS as written in the walk (read, not imported: the walk needs Playwright)."""
    for node in ast.parse(WALK.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "STEPS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("the walk defines no STEPS")


def test_every_image_of_the_guide_is_a_step_of_the_walk_and_exists():
    steps = walk_steps()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", GUIDE.read_text())
    assert images, "the guide shows no screenshot"
    for image in images:
        assert image.startswith("first-study/") and image.endswith(".png"), image
        assert Path(image).stem in steps, f"{image} is not a step of the walk"
        assert (GUIDE.parent / image).is_file(), f"{image} is missing: run the walk with OVERSIGHT_GUIDE_SHOTS"
    assert len(set(images)) == len(images)


def test_the_guide_is_linked_from_the_readme():
    assert "docs/first-study.md" in (REPO / "README.md").read_text()
