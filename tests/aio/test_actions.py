"""``tests/test_actions.py`` through the async stack (see conftest.py)."""

from tests import test_actions
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_actions, globals())
