"""Streamlit's own upload cap follows PLAYGROUND_MAX_FILE_MB (it was 200 MB, held in memory
before the samples reader's 20 MB check)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config

from prompt_playground.bootstrap import Services
from prompt_playground.ui.services import follow_upload_limit
from tests.app.helpers import open_page


@pytest.fixture
def streamlit_default_limit() -> Iterator[None]:
    config.set_option("server.maxUploadSize", 200)
    yield
    config.set_option("server.maxUploadSize", 200)


def test_the_upload_cap_equals_the_samples_file_limit(
    app_env: Path, services: Services, streamlit_default_limit: None
) -> None:
    at = open_page("pages/compare.py")
    wanted = math.ceil(services.settings.max_file_mb)
    assert config.get_option("server.maxUploadSize") == wanted
    (uploader,) = at.get("file_uploader")
    assert uploader.proto.max_upload_size_mb == wanted


@pytest.mark.parametrize(("mb", "cap"), [(20.0, 20), (0.5, 1), (2.1, 3)])
def test_fractional_limits_round_up_to_whole_megabytes(
    mb: float, cap: int, streamlit_default_limit: None
) -> None:
    follow_upload_limit(mb)
    assert config.get_option("server.maxUploadSize") == cap
