"""Version stores: the local directory and Redis (real, a key prefix of this test's own)."""
import json
import os
import uuid

import pytest

from fsapp.deploy.model import content_hash
from fsapp.deploy.store import LocalStore, RedisStore, VersionError


@pytest.fixture(params=["local", "redis"])
def store(request, tmp_path):
    if request.param == "local":
        yield LocalStore(tmp_path / "versions")
        return
    url = os.environ.get("FSAPP_TEST_REDIS_URL")
    if not url:
        if os.environ.get("FSAPP_REQUIRE_SERVICES") == "1":
            pytest.fail("FSAPP_TEST_REDIS_URL is not set")
        pytest.skip("no redis-server")
    prefix = f"fsapp-test-{uuid.uuid4().hex[:8]}:"
    s = RedisStore(url, prefix)
    try:
        yield s
    finally:
        keys = list(s.redis.scan_iter(match=prefix + "*"))
        if keys:
            s.redis.delete(*keys)


def test_record_list_resolve(store):
    assert store.current() is None and store.history() == []
    one = store.record({"flows/a.yaml": b"one"}, "alice", "first")
    two = store.record({"flows/a.yaml": b"two", "routing.yaml": b"q"}, "bob", "second")
    assert (one.number, one.parent, two.number, two.parent) == (1, None, 2, 1)
    assert store.current().number == 2
    assert two.content_hash == content_hash({"flows/a.yaml": b"two", "routing.yaml": b"q"})
    again = store.get(2)
    assert dict(again.files) == {"flows/a.yaml": b"two", "routing.yaml": b"q"}
    assert (again.author, again.message) == ("bob", "second")
    assert store.resolve("v1").number == 1 and store.resolve(one.content_hash[:8]).number == 1
    with pytest.raises(VersionError, match="no version 7"):
        store.resolve("7")
    with pytest.raises(VersionError, match="hash prefix of 6"):
        store.resolve("abc")
    assert [v.number for v in store.history()] == [1, 2]


def test_a_recorded_version_is_never_overwritten(store):
    first = store.record({"x": b"1"}, "a", "m")
    assert store._create(first.__class__(number=1, content_hash=content_hash({"x": b"2"}), created="t",
                                         author="evil", message="m", parent=None, files={"x": b"2"})) is False
    assert dict(store.get(1).files) == {"x": b"1"}


def test_an_altered_record_is_detected(tmp_path):
    store = LocalStore(tmp_path)
    store.record({"x": b"1"}, "a", "m")
    doc = json.loads((tmp_path / "1.json").read_text())
    doc["files"]["x"] = "Mg=="   # base64 of "2"
    (tmp_path / "1.json").write_text(json.dumps(doc))
    with pytest.raises(VersionError, match="does not match its hash"):
        store.get(1)
