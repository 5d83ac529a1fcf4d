from netqasm.sdk.external import NetQASMConnection


def main(app_config=None):
    with NetQASMConnection("bob", log_config=app_config.log_config):
        pass
    return {"ok": True}
