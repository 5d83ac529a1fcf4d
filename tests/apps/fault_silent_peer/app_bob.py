from netqasm.sdk.external import Socket


def main(app_config=None):
    Socket("bob", "alice", log_config=app_config.log_config)
    return {"sent": False}
