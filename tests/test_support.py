"""The tests' own support: what is missing here skips a test on a laptop and fails it under CI."""

from __future__ import annotations

import pytest

from tests.support import shared_data_folder


def test_without_the_shared_data_ci_fails_where_a_laptop_skips(monkeypatch, tmp_path):
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        shared_data_folder(tmp_path)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run these tests"):
        shared_data_folder(tmp_path)
