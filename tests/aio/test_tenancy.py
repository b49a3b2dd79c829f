"""``tests/test_tenancy.py`` through the async stack (see conftest.py)."""

from tests import test_tenancy
from tests.aio.rerun import rerun

LEFT_OUT = rerun(test_tenancy, globals())
