"""``tests/test_replay.py`` through the async stack (see conftest.py)."""

from tests import test_replay
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_replay, globals())
