import uuid

import pytest

from fsapp.routing.backend import MemoryBackend


@pytest.fixture(params=["memory", "redis"])
def backend(request):
    """The same suite on both backends; Redis keys under a unique prefix per test."""
    if request.param == "memory":
        yield MemoryBackend()
        return
    from fsapp.routing.redis_backend import RedisBackend
    url = request.getfixturevalue("redis_url")
    be = RedisBackend.from_url(url, prefix=f"test:{uuid.uuid4().hex[:10]}:")
    yield be
    be.delete_all()
    be.close()


@pytest.fixture
def redis_backend(redis_url):
    from fsapp.routing.redis_backend import RedisBackend
    be = RedisBackend.from_url(redis_url, prefix=f"test:{uuid.uuid4().hex[:10]}:")
    yield be
    be.delete_all()
    be.close()
