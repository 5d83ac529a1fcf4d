from pair_app import creator


def main(app_config=None, rounds=2, pairs=3):
    return creator(app_config, rounds, pairs)
