from netqasm.sdk.external import Socket


def main(app_config=None):
    socket = Socket("alice", "bob", log_config=app_config.log_config)
    return {"msg": socket.recv()}  # bob never sends
