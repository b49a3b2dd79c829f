"""``tests/test_actions_features.py`` through the async stack (see conftest.py)."""

from tests import test_actions_features
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_actions_features, globals())
