"""bess_size.scenarios"""
