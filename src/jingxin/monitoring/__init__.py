# monitoring
