"""prefect_haoee.simulator"""
