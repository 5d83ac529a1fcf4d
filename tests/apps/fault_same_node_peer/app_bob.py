def main(app_config=None):
    return {"idle": True}
