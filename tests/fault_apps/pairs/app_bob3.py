from pair_app import receiver


def main(app_config=None, rounds=2, pairs=3):
    return receiver(app_config, rounds, pairs)
