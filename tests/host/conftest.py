"""Fixtures the search tests share: the search's test helpers and a tiny VAE (built once a module)."""
import pytest


@pytest.fixture(scope="module")
def hs(host):
    """tests/support/hh_search.py, importable only once ComfyUI is loaded."""
    import hh_search

    return hh_search


@pytest.fixture(scope="module")
def vae(host, hs):
    return hs.tiny_vae()
