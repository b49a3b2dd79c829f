"""``tests/test_nested.py`` through the async stack (see conftest.py)."""

from tests import test_nested
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_nested, globals())
