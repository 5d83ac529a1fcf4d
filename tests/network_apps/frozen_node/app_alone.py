from netqasm.sdk.external import Socket


def main(app_config=None):
    """Waits for a message nobody sends: its node stays on the timeline with nothing to do until the
    network is idle (a test freezes this node's process meanwhile)."""
    socket = Socket("alone", "sender", socket_id=7)
    return socket.recv()
