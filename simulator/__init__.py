"""bess_size.simulator"""
