"""espeak-ng and sox are Debian packages (the Makefile installs them). Without them the
rendering tests are skipped, except under FSAPP_REQUIRE_SERVICES=1 (make test, CI),
where that is a failure, so CI cannot go green by skipping."""
import os
import shutil

import pytest


@pytest.fixture
def tts_tools() -> None:
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if not missing:
        return
    message = f"{' and '.join(missing)} not installed (apt-get install espeak-ng sox)"
    if os.environ.get("FSAPP_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)
