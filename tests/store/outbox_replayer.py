"""A real outbox replayer process for tests/store/test_outbox_kill.py.

    python outbox_replayer.py ODBC SPOOL

Replays the spool through a Store, in lockstep with the test: before applying each row
it prints the row's key and waits for a line on stdin, so the test decides exactly where
the kill -9 lands (while the row waits, or just after "go", anywhere in its apply or
progress write). The rows it prints are its attempts; the real apply runs unchanged.
"""
import sys

from fsapp.store import Store


def main(odbc: str, spool: str) -> None:
    store = Store({"main": odbc}, spool_dir=spool, start=False)
    real_apply = store._apply

    def apply_in_lockstep(record):
        print(record.key, flush=True)
        if not sys.stdin.readline():
            raise SystemExit("the test went away")
        real_apply(record)

    store._apply = apply_in_lockstep
    report = store.replay_outbox()
    print(f"done {report.replayed} {report.stopped or 'drained'}", flush=True)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:3])
