"""The cases' world of bureaus and users serves the jobs' tests too."""

from tests.cases.conftest import world  # noqa: F401
