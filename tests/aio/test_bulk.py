"""``tests/test_bulk.py`` through the async stack (see conftest.py)."""

from tests import test_bulk
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_bulk, globals())
