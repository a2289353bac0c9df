"""hridd on PostgreSQL through a restart of the database server.

An operator restarts PostgreSQL (an upgrade, a failover to a standby on
the same address) while hridd runs: the requests that arrive while the
server is down fail with an error, the ones after it is back succeed
without restarting hridd, and nothing acknowledged before is lost.  The
test starts a cluster of its own, since it restarts it.
"""

import shutil
import tempfile
import threading

import pgcluster
from fixtures import World, inspection_body, ok, server
from test_log import checkpoint_at_least


def test_requests_after_a_database_restart_succeed():
    with pgcluster.Cluster() as c:
        keys = tempfile.mkdtemp(prefix="hrid-keys-")
        try:
            with server("--db", c.create_db(), "--keys", keys) as s:
                w = World(s)
                code = w.in_service()
                for _ in range(3):
                    w.event(w.regulator, code, inspection_body())
                before = len(w.history(code))

                c.restart(down=0.5)

                # Reads on every server thread and writes through the
                # writer's connection, each of which the restart dropped.
                for _ in range(8):
                    assert w.unit(code)["state"] == "in_service"
                w.event(w.regulator, code, inspection_body())
                results = []

                def write():
                    results.append(w.regulator.post(f"/v1/units/{code}/events",
                                                    inspection_body()))
                threads = [threading.Thread(target=write) for _ in range(8)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                for r in results:
                    ok(r, what="an inspection after the restart")
                assert len(w.history(code)) == before + 9
                # The log took in every event, before and after, and a
                # checkpoint is signed over them.
                checkpoint_at_least(s, before + 9)
        finally:
            shutil.rmtree(keys, ignore_errors=True)
