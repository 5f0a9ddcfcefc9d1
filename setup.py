"""Build hook: the top-level suites/, rubrics/ and examples/ become package data under harness/_data/.

They stay one copy in git (the repository's layout, which the README's commands use); the wheel
carries them where :mod:`harness.bundled` finds them. All other metadata is in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA = ("suites", "rubrics", "examples")
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "make_*.py", "*.png")


class BuildPyWithData(build_py):
    """build_py, then copy the bundled data folders into the built package."""

    def run(self) -> None:
        super().run()
        root = Path(__file__).resolve().parent
        for name in DATA:
            target = Path(self.build_lib) / "harness" / "_data" / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(root / name, target, ignore=IGNORE)


setup(cmdclass={"build_py": BuildPyWithData})
