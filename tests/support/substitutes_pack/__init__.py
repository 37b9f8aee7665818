"""Test-only custom node pack for the browser test's server: the tiny stand-in nodes of
tests/support/hh_substitutes.py (HHTestTinyCheckpoint, HHTestTinyFlux, HHTestStubCLIP). Never installed
for users; tests/support/hh_browser.py links it into a temporary custom_nodes folder."""
import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

from hh_substitutes import NODE_CLASS_MAPPINGS  # noqa: E402

__all__ = ["NODE_CLASS_MAPPINGS"]
