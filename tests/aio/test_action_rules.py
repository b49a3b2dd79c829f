"""``tests/test_action_rules.py`` through the async stack (see conftest.py)."""

from tests import test_action_rules
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_action_rules, globals())
