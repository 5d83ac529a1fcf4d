"""EPR-rate benchmark, receiving side: N pairs with ``alice``, each measured at once (standard SDK usage).

Inputs: ``n`` (pairs) and ``mode``:
  * ``per_pair`` — one subroutine per pair: ``recv_keep()[0]``, measure, ``flush()``, N times (mirrors alice);
  * ``looped``   — one subroutine for all N pairs: ``recv_keep(number=N, sequential=True)`` with a
    post routine that measures each pair into an array, in a single ``flush()``.
One untimed warm-up pair first lines both sides up. Returns the timed seconds and the outcomes.
"""
import time

from netqasm.sdk import EPRSocket
from netqasm.sdk.external import NetQASMConnection

PEER = "alice"


def main(app_config=None, n=10, mode="per_pair"):
    n = int(n)
    epr_socket = EPRSocket(PEER)
    conn = NetQASMConnection(app_name=app_config.app_name, log_config=app_config.log_config,
                             epr_sockets=[epr_socket])
    with conn:
        warm = epr_socket.recv_keep()[0].measure()
        conn.flush()
        t0 = time.perf_counter()
        if mode == "per_pair":
            outcomes = []
            for _ in range(n):
                m = epr_socket.recv_keep()[0].measure()
                conn.flush()
                outcomes.append(int(m))
        elif mode == "looped":
            array = conn.new_array(n)

            def post_create(_conn, q, pair):
                q.measure(array.get_future_index(pair))

            epr_socket.recv_keep(number=n, sequential=True, post_routine=post_create)
            conn.flush()
            outcomes = [int(v) for v in array]
        else:
            raise ValueError(f"unknown mode {mode!r}")
        elapsed = time.perf_counter() - t0
    return {"elapsed_s": elapsed, "n": n, "mode": mode, "warm": int(warm),
            "bits": "".join(str(b) for b in outcomes)}
