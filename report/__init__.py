"""bess_size.report"""
