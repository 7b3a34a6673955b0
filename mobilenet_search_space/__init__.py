"""The MobileNet-like (ProxylessNAS) search space: supernet, FLOPs table, angle, search, retraining."""
