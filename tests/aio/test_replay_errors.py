"""``tests/test_replay_errors.py`` through the async stack (see conftest.py)."""

from tests import test_replay_errors
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_replay_errors, globals())
