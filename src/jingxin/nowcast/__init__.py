"""现时预测 (nowcast): 规上工业增加值 growth before the statistics bureau publishes it."""
