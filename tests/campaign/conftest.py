"""Contact-state stores for the campaign tests: SQLite in tmp_path, and the shared test
redis-server under a key prefix of the test's own (its keys are deleted afterwards;
the server is never flushed)."""
import uuid

import pytest

from fsapp.campaign.redis_state import RedisStates
from fsapp.campaign.state import SQLiteStates


def redis_states(url: str, prefix: str) -> RedisStates:
    return RedisStates.from_url(url, prefix)


def delete_prefix(url: str, prefix: str) -> None:
    import redis
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    for start in range(0, len(keys), 500):
        client.delete(*keys[start:start + 500])
    client.close()


@pytest.fixture
def redis_prefix(redis_url):
    prefix = f"fsapp-test-campaign-{uuid.uuid4().hex[:10]}:"
    yield prefix
    delete_prefix(redis_url, prefix)


@pytest.fixture(params=["sqlite", "redis"])
def states(request, tmp_path):
    if request.param == "sqlite":
        store = SQLiteStates(tmp_path / "state.db")
    else:
        store = redis_states(request.getfixturevalue("redis_url"), request.getfixturevalue("redis_prefix"))
    yield store
    store.close()
