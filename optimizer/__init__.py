"""bess_size.optimizer"""
