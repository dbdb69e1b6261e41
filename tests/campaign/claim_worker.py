"""A worker process for test_state.py: claims contacts as fast as it can, holds each
for a moment, gives it back as a retry due at once, and prints what it held:
`contact attempt claimed_at released_at` per line. Usage:
    python claim_worker.py sqlite PATH|redis URL PREFIX  CAMPAIGN WORKER CLAIMS
"""
import sys
import time

from gevent import monkey

monkey.patch_all()

from fsapp.campaign.redis_state import RedisStates  # noqa: E402
from fsapp.campaign.state import SQLiteStates  # noqa: E402


def main(argv):
    if argv[0] == "sqlite":
        states, rest = SQLiteStates(argv[1]), argv[2:]
    else:
        states, rest = RedisStates.from_url(argv[1], argv[2]), argv[3:]
    campaign, worker, wanted = rest[0], rest[1], int(rest[2])
    held = 0
    while held < wanted:
        claim = states.claim(campaign, time.time(), worker, 60.0)
        if claim is None:
            time.sleep(0.001)
            continue
        claimed = time.time()
        time.sleep(0.002)                       # "dialling"
        released = time.time()
        ok = states.finish(claim, "retry", released, {"outcome": "busy", "started_at": claimed})
        assert ok, claim
        print(claim.contact_id, claim.attempt, f"{claimed:.6f}", f"{released:.6f}", flush=True)
        held += 1
    states.close()


if __name__ == "__main__":
    main(sys.argv[1:])
