def main(app_config=None):
    return {"partner": "done"}
