"""bess_size.solvers"""
