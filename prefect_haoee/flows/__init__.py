"""prefect_haoee.flows"""
